"""``authpulse generate``: write a synthetic LANL 2014 or 2015 auth log.

A thin wrapper over :func:`authpulse_dagster.lanl.generator.generate`, so demos
and benchmarks get realistic data without the (large, separately licensed)
real LANL release, and the risk engine gets data with labelled attacks
(``--attacks``) to be evaluated against (``authpulse evaluate``).
"""

from __future__ import annotations

from pathlib import Path

import click

from authpulse_dagster.lanl.formats import FORMATS, LANL2014
from authpulse_dagster.lanl.generator import generate as generate_log
from authpulse_dagster.lanl.scenarios import SCENARIOS, Difficulty


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
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default=LANL2014, show_default=True,
    help="lanl2014: 'time,U<n>,C<n>'; lanl2015: 'time,src_user@DOM1,dst_user@DOM1,src,dst,auth,logon,LogOn,Success|Fail'.",
)
@click.option(
    "--attacks", default=None, metavar="all|NAME[,NAME]",
    help=f"Inject labelled attack scenarios: 'all' or some of {', '.join(SCENARIOS)} "
    "(failed_logon_burst needs --format lanl2015).",
)
@click.option(
    "--intensity", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
    help="How loud the attacks are: scales their event counts and distance from normal (0.5 subtler, 2 louder).",
)
@click.option(
    "--victims", type=click.IntRange(min=1), default=3, show_default=True,
    help="Attacked users per scenario (distinct across scenarios).",
)
@click.option(
    "--attack-start-day", type=click.IntRange(min=1), default=7, show_default=True,
    help="First day attacks may happen on (the days before are a warm-up that builds baselines).",
)
@click.option(
    "--labels", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Where to write the red-team labels (time,user@domain,src,dst) [default: <out stem>.redteam.txt]; "
    "a <labels stem>.scenarios.json sidecar goes next to it.",
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a per-day progress bar on large runs.")
def generate(
    users: int, computers: int, days: int, seed: int, out: Path, events_per_user_day: float, corrupt_rate: float,
    fmt: str, attacks: str | None, intensity: float, victims: int, attack_start_day: int, labels: Path | None,
    progress: bool,
) -> None:
    """Write a synthetic LANL 2014 or 2015 auth log, sorted by time.

    Activity is skewed across users and computers, users stick to a few usual
    computers, service accounts touch many hosts around the clock, and there is
    a working-hours and weekday rhythm. With --attacks, labelled attack
    scenarios are injected after the warm-up and written to a labels file.

    \b
    Examples:
      authpulse generate --users 10000 --computers 20000 --days 10 --out data/auth.txt.gz
      authpulse generate --days 14 --format lanl2015 --attacks all --out data/auth.txt.gz
    """
    if labels is not None and attacks is None:
        raise click.UsageError("--labels needs --attacks")
    scenarios = (
        Difficulty(intensity=intensity, victims=victims, start_day=attack_start_day).scenarios(attacks, fmt)
        if attacks is not None
        else None
    )
    stats = generate_log(
        out,
        users=users,
        computers=computers,
        days=days,
        seed=seed,
        events_per_user_day=events_per_user_day,
        progress=progress,
        corrupt_rate=corrupt_rate,
        fmt=fmt,
        attacks=scenarios,
        labels=labels,
    )
    damaged = f" plus {stats.corrupt_lines} damaged lines" if stats.corrupt_lines else ""
    click.echo(
        f"generated {stats.events} events{damaged} ({stats.format}, {stats.users} users, {stats.computers} computers, "
        f"{stats.days} days) to {stats.path} in {stats.seconds:.1f}s"
    )
    if stats.labels_path is not None:
        click.echo(
            f"injected {stats.attack_events} attack events against {stats.attacked_users} users; "
            f"labels in {stats.labels_path}, scenarios in {stats.sidecar_path}"
        )
