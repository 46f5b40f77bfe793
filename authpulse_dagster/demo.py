"""``authpulse demo``: land data, run every asset through Dagster, print what happened.

The same path serves generated data and a user's own LANL file. Data is
landed under ``$AUTHPULSE_HOME/landing/<format>/demo-<name>`` (a symlink for a
user's file, so nothing large is copied); earlier demo files are removed so
the summary describes this input only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc
from pyiceberg.expressions import And, EqualTo

from authpulse_dagster import local_stack
from authpulse_dagster.aws import apply_local_environment
from authpulse_dagster.errors import AuthPulseError, InputError
from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.lakehouse.schemas import QUARANTINE, TABLES, USER_BEHAVIOR
from authpulse_dagster.lakehouse.tables import count_rows, days_filter, ensure_table
from authpulse_dagster.lanl.formats import validate_format
from authpulse_dagster.lanl.generator import generate
from authpulse_dagster.lanl.readers import iter_batches
from authpulse_dagster.orchestrate import ensure_dagster_home, materialize_days
from authpulse_dagster.settings import Settings

DEMO_PREFIX = "demo-"


@dataclass
class GenerateOptions:
    users: int = 1000
    computers: int = 2000
    days: int = 3
    seed: int = 7
    events_per_user_day: float = 100.0
    # A few damaged lines, so the demo shows the quarantine at work.
    corrupt_rate: float = 0.0005


def land_input(settings: Settings, source: Path, fmt: str) -> Path:
    """Put ``source`` into the landing folder as this demo's only file."""
    fmt = validate_format(fmt)
    if not source.is_file():
        raise InputError(f"input file not found: {source}")
    _clear_demo_files(settings)
    target = settings.landing_dir / fmt / f"{DEMO_PREFIX}{source.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source.resolve())
    return target


def _clear_demo_files(settings: Settings) -> None:
    if settings.landing_dir.is_dir():
        for path in settings.landing_dir.glob(f"*/{DEMO_PREFIX}*"):
            path.unlink()


def generate_input(settings: Settings, opts: GenerateOptions) -> Path:
    _clear_demo_files(settings)
    target = settings.landing_dir / "lanl2014" / f"{DEMO_PREFIX}generated.txt.gz"
    generate(
        target, opts.users, opts.computers, opts.days, opts.seed, opts.events_per_user_day,
        progress=True, corrupt_rate=opts.corrupt_rate,
    )
    return target


def day_range(settings: Settings, path: Path, fmt: str) -> tuple[date, date]:
    """First and last day holding a valid time in the file (one streaming pass)."""
    lo, hi = None, None
    for batch in iter_batches(path, fmt, max_dataset_seconds=settings.max_dataset_seconds):
        mm = pc.min_max(batch.column("dataset_time")).as_py()
        if mm["min"] is not None:
            lo = mm["min"] if lo is None else min(lo, mm["min"])
            hi = mm["max"] if hi is None else max(hi, mm["max"])
    if lo is None:
        raise InputError(f"{path} has no line with a valid time; is --format right?")
    epoch = settings.dataset_epoch
    return (epoch + timedelta(seconds=lo)).date(), (epoch + timedelta(seconds=hi)).date()


def run_pipeline(settings: Settings, first: date, last: date) -> dg.ExecuteInProcessResult:
    from authpulse_dagster.definitions import build_definitions

    ensure_dagster_home(settings)
    instance = dg.DagsterInstance.get()
    result = materialize_days(build_definitions(settings), first, last, instance)
    if not result.success:
        failures = [e.message for e in result.all_events if e.is_failure]
        raise AuthPulseError(f"the pipeline run {result.run_id} failed: {failures[:1]}; see `dagster dev` for the run log")
    return result


def summary(settings: Settings, first: date, last: date) -> str:
    """Rows per table, quarantine reasons, the top users of the last day, and where the data lives."""
    catalog = load_catalog(settings)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    f = days_filter(days)
    lines = [f"AuthPulse demo: {first} .. {last} ({len(days)} days)", "", "rows per table:"]
    for name, table_def in TABLES.items():
        lines.append(f"  {table_def.layer:<7} {name:<16} {count_rows(ensure_table(catalog, table_def), f):>10,}")

    reasons = ensure_table(catalog, QUARANTINE).scan(row_filter=f, selected_fields=("reason",)).to_arrow()
    lines += ["", "quarantined by reason:"]
    counts = sorted(pc.value_counts(reasons.column("reason")).to_pylist(), key=lambda c: -c["counts"]) if reasons.num_rows else []
    lines += [f"  {c['values']:<24} {c['counts']:>8,}" for c in counts] or ["  (none)"]

    behavior = ensure_table(catalog, USER_BEHAVIOR).scan(
        row_filter=And(EqualTo("event_date", last.isoformat()), EqualTo("window", "1d")),
        selected_fields=("user_id", "distinct_computers", "events", "new_computers"),
    ).to_arrow()
    top = behavior.sort_by([("distinct_computers", "descending"), ("events", "descending"), ("user_id", "ascending")]).slice(0, 10)
    lines += ["", f"top 10 users by distinct computers on {last}:", f"  {'user':<10} {'computers':>9} {'new':>5} {'events':>8}"]
    lines += [
        f"  {r['user_id']:<10} {r['distinct_computers']:>9} {r['new_computers']:>5} {r['events']:>8,}" for r in top.to_pylist()
    ]
    lines += [
        "",
        "where the data lives:",
        f"  data home   {settings.home}",
        f"  catalog     {settings.catalog_uri} (namespace authpulse)",
        f"  warehouse   {settings.warehouse}",
        f"  dagster     {settings.dagster_home} (run `make dev` to browse the runs)",
        f"  landing     {settings.landing_dir}",
    ]
    return "\n".join(lines)


def run_demo(settings: Settings, input_path: Path | None, fmt: str, gen: GenerateOptions, echo=print) -> None:
    started = time.monotonic()
    stack = local_stack.up(settings)
    apply_local_environment(settings)
    echo(f"local stack up at {stack.endpoint}")
    if input_path is None:
        landed = generate_input(settings, gen)
        fmt = "lanl2014"
        echo(f"generated {landed}")
    else:
        landed = land_input(settings, input_path, fmt)
        echo(f"landed {input_path} as {landed}")
    first, last = day_range(settings, landed, fmt)
    echo(f"materializing raw_events → auth_events/quarantine → gold for {first} .. {last} through Dagster")
    result = run_pipeline(settings, first, last)
    echo(f"dagster run {result.run_id} succeeded")
    echo("")
    echo(summary(settings, first, last))
    echo(f"\ndemo finished in {time.monotonic() - started:.1f} s")
