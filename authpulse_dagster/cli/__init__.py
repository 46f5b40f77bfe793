"""The ``authpulse`` command: the one entry point for humans.

Each command group lives in its own module; this module only assembles them
and turns :class:`AuthPulseError` into one line on stderr and a meaningful
exit code (see ``authpulse_dagster.errors``).
"""

from __future__ import annotations

import sys

import click

from authpulse_dagster.errors import AuthPulseError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """AuthPulse: authentication-risk analytics on Spark, Iceberg and Dagster."""


def _register() -> None:
    from authpulse_dagster.cli import alerts, api, demo, evaluate, generate, local, query, replay, run, stream

    for command in (
        local.local,
        generate.generate,
        demo.demo,
        run.run,
        replay.replay,
        stream.stream,
        alerts.alerts,
        evaluate.evaluate,
        query.query,
        api.api,
    ):
        cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    _register()
    try:
        rv = cli.main(args=argv, prog_name="authpulse", standalone_mode=False)
    except AuthPulseError as exc:
        click.echo(f"authpulse: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("authpulse: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)
