"""``authpulse run``: every batch asset for every day of a LANL file, headless, on the local default."""

from __future__ import annotations

from pathlib import Path

import click

from authpulse_dagster.demo import risk_summary, run_file, summary
from authpulse_dagster.lanl.formats import FORMATS
from authpulse_dagster.cli import context as cli_context


@click.command()
@click.option("--input", "input_path", type=click.Path(path_type=Path), required=True,
              help="A LANL auth file (plain, .gz or .bz2).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="Format of --input.")
def run(input_path: Path, fmt: str) -> None:
    """Start the local stack, land FILE, and materialize bronze → silver → gold → risk → dashboard through Dagster.

    This is the path `make demo` takes, without generating data or the live replay.
    Then `authpulse evaluate --labels redteam.txt` scores the alerts against labels,
    and `authpulse query --list` shows the investigation queries.
    """
    settings = cli_context.settings()
    first, last = run_file(settings, input_path, fmt, click.echo)
    click.echo("")
    click.echo(summary(settings, first, last))
    click.echo("")
    click.echo(risk_summary(settings, first, last))
