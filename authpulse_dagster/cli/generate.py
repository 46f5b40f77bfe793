"""``authpulse generate``: write a synthetic LANL 2014 auth log.

A thin wrapper over :func:`authpulse_dagster.lanl.generator.generate`, so demos
and benchmarks get realistic data without the (large, separately licensed)
real LANL release.
"""

from __future__ import annotations

from pathlib import Path

import click

from authpulse_dagster.lanl.generator import generate as generate_log


@click.command("generate")
@click.option(
    "--users", type=click.IntRange(min=1), default=1000, show_default=True,
    help="Number of user accounts (U1..UN); about 1% become service accounts.",
)
@click.option(
    "--computers", type=click.IntRange(min=2), default=2000, show_default=True,
    help="Number of computers (C1..CM).",
)
@click.option(
    "--days", type=click.IntRange(min=1), default=3, show_default=True,
    help="Days of activity; day 0 is a Monday, days 5 and 6 of each week are quiet.",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=7, show_default=True,
    help="Random seed; the same arguments always give the same bytes.",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="Output file; gzip-compressed when the name ends with .gz. Parent directories are created.",
)
@click.option(
    "--events-per-user-day", type=click.FloatRange(min=0, min_open=True), default=100.0, show_default=True,
    help="Mean events per user per day (rates are skewed around it).",
)
@click.option(
    "--corrupt-rate", type=click.FloatRange(min=0, max=1, max_open=True), default=0.0, show_default=True,
    help="Share of damaged lines (truncated, blank, binary...) to mix in, for exercising the quarantine.",
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a per-day progress bar on large runs.")
def generate(
    users: int, computers: int, days: int, seed: int, out: Path, events_per_user_day: float, corrupt_rate: float,
    progress: bool,
) -> None:
    """Write a synthetic LANL 2014 auth log (lines 'time,U<n>,C<n>', sorted by time).

    Activity is skewed across users and computers, users stick to a few usual
    computers, service accounts touch many hosts around the clock, and there is
    a working-hours and weekday rhythm.

    \b
    Example:
      authpulse generate --users 10000 --computers 20000 --days 10 --out data/auth.txt.gz
    """
    stats = generate_log(
        out,
        users=users,
        computers=computers,
        days=days,
        seed=seed,
        events_per_user_day=events_per_user_day,
        progress=progress,
        corrupt_rate=corrupt_rate,
    )
    damaged = f" plus {stats.corrupt_lines} damaged lines" if stats.corrupt_lines else ""
    click.echo(
        f"generated {stats.events} events{damaged} ({stats.users} users, {stats.computers} computers, "
        f"{stats.days} days) to {stats.path} in {stats.seconds:.1f}s"
    )
