"""``authpulse local``: start, stop and inspect the embedded local AWS.

``env`` prints shell ``export`` lines so a Makefile or a shell can adopt the
same environment the CLI uses: ``eval "$(authpulse local env)"``.
"""

from __future__ import annotations

import shlex
import sys

import click

from authpulse_dagster import local_stack
from authpulse_dagster.aws import local_aws_environment
from authpulse_dagster.cli import context as cli_context


@click.group()
def local() -> None:
    """Run the local stack (a moto server standing in for AWS)."""


def _print_status(st: local_stack.StackStatus) -> None:
    click.echo(f"endpoint: {st.endpoint}")
    click.echo(f"pid: {st.pid}")
    click.echo(f"catalog: {st.catalog_uri}")
    click.echo(f"warehouse: {st.warehouse}")
    click.echo(f"stream: {st.stream}")
    click.echo(f"topic: {st.topic_arn}")
    click.echo(f"queue: {st.queue_url}")


@local.command()
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port on 127.0.0.1 [default: AUTHPULSE_MOTO_PORT or 4566].")
def up(port: int | None) -> None:
    """Start the local AWS (or reuse a running one) and create its resources."""
    _print_status(local_stack.up(cli_context.settings(), port=port))


@local.command()
def down() -> None:
    """Stop the local AWS."""
    stopped = local_stack.down(cli_context.settings())
    click.echo("stopped" if stopped else "not running")


@local.command()
def status() -> None:
    """Show the local stack; exit code 1 when it is not running."""
    st = local_stack.status(cli_context.settings())
    if not st.running:
        click.echo("not running")
        click.echo(f"catalog: {st.catalog_uri}")
        click.echo(f"warehouse: {st.warehouse}")
        # sys.exit, not ctx.exit: the root runs click with standalone_mode=False,
        # where ctx.exit's code would be returned and dropped.
        sys.exit(1)
    _print_status(st)


@local.command()
def env() -> None:
    """Print `export` lines for the local environment (for eval in a shell)."""
    settings = cli_context.settings()
    # Before `up` the endpoint is where `up` will put it, so eval works in any order.
    endpoint = local_stack.live_endpoint(settings) or f"http://{local_stack.HOST}:{settings.moto_port}"
    variables = {"AUTHPULSE_HOME": str(settings.home)}
    variables.update(local_aws_environment(endpoint, settings.region))
    variables["DAGSTER_HOME"] = str(settings.dagster_home)
    for name, value in variables.items():
        click.echo(f"export {name}={shlex.quote(value)}")
