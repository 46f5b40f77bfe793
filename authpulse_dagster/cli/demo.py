"""``authpulse demo``: the whole platform end to end on the local default."""

from __future__ import annotations

from pathlib import Path

import click

from authpulse_dagster.demo import GenerateOptions, run_demo
from authpulse_dagster.lanl.formats import FORMATS
from authpulse_dagster.cli import context as cli_context


@click.command()
@click.option("--input", "input_path", type=click.Path(path_type=Path), default=None,
              help="A LANL file (plain, .gz or .bz2) to run on instead of generated data.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="lanl2015", show_default=True,
              help="Format of --input, and of the generated data.")
@click.option("--users", type=int, default=300, show_default=True, help="Generated users.")
@click.option("--computers", type=int, default=600, show_default=True, help="Generated computers.")
@click.option("--days", type=int, default=12, show_default=True,
              help="Generated days of history (the rules need 7 before they judge anyone; attacks start on day 7).")
@click.option("--seed", type=int, default=7, show_default=True, help="Generator seed.")
@click.option("--events-per-user-day", type=float, default=100.0, show_default=True, help="Mean generated events per user per day.")
@click.option("--live/--no-live", default=True, show_default=True,
              help="With generated data, also replay one more day through Kinesis into the streaming job.")
def demo(input_path: Path | None, fmt: str, users: int, computers: int, days: int, seed: int, events_per_user_day: float,
         live: bool) -> None:
    """Start the local stack, land data, materialize every asset through Dagster, stream a day, print a summary."""
    run_demo(
        cli_context.settings(),
        input_path,
        fmt,
        GenerateOptions(users, computers, days, seed, events_per_user_day, fmt=fmt),
        echo=click.echo,
        live=live,
    )
