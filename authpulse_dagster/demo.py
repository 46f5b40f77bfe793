"""``authpulse demo``: land data, run every asset through Dagster, print what happened.

The same path serves generated data and a user's own LANL file. Data is
landed under ``$AUTHPULSE_HOME/landing/<format>/demo-<name>`` (a symlink for a
user's file, so nothing large is copied); earlier demo files are removed so
the summary describes this input only.
"""

from __future__ import annotations

import collections
import contextlib
import gzip
import logging
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Iterator

import dagster as dg
import pyarrow.compute as pc
from pyiceberg.expressions import And, EqualTo

from authpulse_dagster import local_stack
from authpulse_dagster.local_stack import apply_local_environment
from authpulse_dagster.errors import AuthPulseError, ConfigError, InputError
from authpulse_dagster.home_lock import exclusive_home
from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.lakehouse.schemas import ALERT_DELIVERIES, ALERTS, QUARANTINE, TABLES, USER_BEHAVIOR, USER_RISK_DAILY
from authpulse_dagster.lakehouse.tables import count_rows, days_filter, load_table, scan_arrow
from authpulse_dagster.lanl.formats import validate_format
from authpulse_dagster.lanl.generator import generate
from authpulse_dagster.lanl.readers import iter_batches, require_file
from authpulse_dagster.orchestrate import ensure_dagster_home, materialize_days
from authpulse_dagster.settings import Settings

DEMO_PREFIX = "demo-"


@dataclass
class GenerateOptions:
    # Twelve days: the rules need a week of history before they judge anyone,
    # and the slowest scenario (slow_spread) runs five days from day 7.
    users: int = 300
    computers: int = 600
    days: int = 12
    seed: int = 7
    events_per_user_day: float = 100.0
    # A few damaged lines, so the demo shows the quarantine at work.
    corrupt_rate: float = 0.0005
    fmt: str = "lanl2015"
    attacks: str | None = "all"  # labelled attack scenarios, so there is something to find


def land_input(settings: Settings, source: Path, fmt: str) -> Path:
    """Put ``source`` into the landing folder as this demo's only file."""
    fmt = validate_format(fmt)
    require_file(source)
    _clear_demo_files(settings)
    target = settings.landing_dir / fmt / f"{DEMO_PREFIX}{source.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source.resolve())
    return target


def _clear_demo_files(settings: Settings) -> None:
    if settings.landing_dir.is_dir():
        for path in settings.landing_dir.glob(f"*/{DEMO_PREFIX}*"):
            path.unlink()


def generate_input(settings: Settings, opts: GenerateOptions, live_days: int = 0) -> tuple[Path, Path | None]:
    """Generate ``days`` of history into the landing folder, plus ``live_days`` more for the live replay.

    One generator run covers both, so the live day continues the same users'
    habits; its lines are split off into a file under ``$AUTHPULSE_HOME/live``.
    """
    from authpulse_dagster.lanl.scenarios import Difficulty

    _clear_demo_files(settings)
    target = settings.landing_dir / opts.fmt / f"{DEMO_PREFIX}generated.txt.gz"
    whole = settings.home / "live" / "generated-all.txt.gz"
    labels_path(settings).unlink(missing_ok=True)
    attacks = Difficulty().scenarios(opts.attacks, opts.fmt) if opts.attacks else None
    try:
        generate(
            whole, opts.users, opts.computers, opts.days + live_days, opts.seed, opts.events_per_user_day,
            progress=True, corrupt_rate=opts.corrupt_rate, fmt=opts.fmt, attacks=attacks,
            labels=labels_path(settings) if attacks else None,
        )
    except ConfigError as exc:
        if not attacks:
            raise
        # A short demo (fewer days than the scenarios need) runs without attacks rather than not at all.
        print(f"no attacks injected: {exc}")
        opts.attacks = None
        generate(
            whole, opts.users, opts.computers, opts.days + live_days, opts.seed, opts.events_per_user_day,
            progress=True, corrupt_rate=opts.corrupt_rate, fmt=opts.fmt,
        )
    if not live_days:
        target.parent.mkdir(parents=True, exist_ok=True)
        whole.replace(target)
        return target, None
    live = settings.home / "live" / "live-day.txt.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    split_at = opts.days * 86400
    with gzip.open(whole, "rb") as src, gzip.open(target, "wb", compresslevel=2) as hist, gzip.open(live, "wb", compresslevel=2) as new:
        last_day_hist = True
        for line in src:
            head = line.split(b",", 1)[0]
            if head.isdigit():
                last_day_hist = int(head) < split_at
            # Damaged lines follow the valid line before them, as bronze files them.
            (hist if last_day_hist else new).write(line)
    whole.unlink()
    return target, live


def labels_path(settings: Settings) -> Path:
    """Where the demo writes the labels of the attacks it injected (redteam.txt format)."""
    return settings.home / "live" / "redteam.txt"


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
    first, last = (epoch + timedelta(seconds=lo)).date(), (epoch + timedelta(seconds=hi)).date()
    span = (last - first).days + 1
    if span > settings.max_run_days:
        # One stray far-off time would otherwise ask for a partition per day in between.
        raise InputError(
            f"{path} spans {span} days ({first} .. {last}), more than AUTHPULSE_MAX_RUN_DAYS={settings.max_run_days}; "
            "check for a stray time, or raise AUTHPULSE_MAX_RUN_DAYS to run it all"
        )
    return first, last


def run_pipeline(settings: Settings, first: date, last: date) -> dg.ExecuteInProcessResult:
    from authpulse_dagster.definitions import build_definitions

    ensure_dagster_home(settings)
    instance = dg.DagsterInstance.get()
    defs = build_definitions(settings)
    result = materialize_days(defs, first, last, instance)
    if not result.success:
        failures = [e.message for e in result.all_events if e.is_failure]
        raise AuthPulseError(f"the pipeline run {result.run_id} failed: {failures[:1]}; see `dagster dev` for the run log")
    refresh_dashboard(defs, instance)
    return result


def refresh_dashboard(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    """Rebuild the dashboard page now (under `dagster dev` a sensor does it when gold changes)."""
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # the run log stays in the instance
    result = defs.resolve_job_def("refresh_dashboard").execute_in_process(
        instance=instance, raise_on_error=False, run_config=quiet
    )
    if not result.success:
        raise AuthPulseError(f"the dashboard run {result.run_id} failed; see `dagster dev` for the run log")


def summary(settings: Settings, first: date, last: date) -> str:
    """Rows per table, quarantine reasons, the top users of the last day, and where the data lives."""
    catalog = load_catalog(settings)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    f = days_filter(days)
    lines = [f"AuthPulse demo: {first} .. {last} ({len(days)} days)", "", "rows per table:"]
    for name, table_def in TABLES.items():
        lines.append(f"  {table_def.layer:<7} {name:<16} {count_rows(load_table(catalog, table_def), f):>10,}")

    reasons = scan_arrow(catalog, QUARANTINE, row_filter=f, selected_fields=("reason",))
    lines += ["", "quarantined by reason:"]
    counts = sorted(pc.value_counts(reasons.column("reason")).to_pylist(), key=lambda c: -c["counts"]) if reasons.num_rows else []
    lines += [f"  {c['values']:<24} {c['counts']:>8,}" for c in counts] or ["  (none)"]

    behavior = scan_arrow(catalog, USER_BEHAVIOR,
        row_filter=And(EqualTo("event_date", last.isoformat()), EqualTo("window", "1d")),
        selected_fields=("user_id", "distinct_computers", "events", "new_computers"),
    )
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


def run_live(settings: Settings, live_file: Path, fmt: str = "lanl2014", echo=print) -> dict:
    """Replay ``live_file`` into Kinesis, drain it with the streaming job, and say what each table received."""
    from authpulse_dagster.live.producer import replay
    from authpulse_dagster.live.stream_job import drain, start_query
    from authpulse_dagster.spark import get_spark

    started = time.monotonic()
    report = replay(live_file, fmt, settings, progress=False)
    echo(f"replayed {report.sent:,} records into Kinesis stream {settings.stream_name} "
         f"in {report.seconds:.1f} s ({report.failed} failed, {report.retried} retried)")
    checkpoint = str(settings.home / "checkpoints" / "demo-stream")
    spark = get_spark(settings)
    totals = {"batches": 0, "records": 0, "raw_events": 0, "quarantine": 0, "auth_events": 0, "late_events": 0, "alerts": 0}
    query, processor = start_query(spark, settings, checkpoint, trigger_seconds=0, max_records=50_000)
    try:
        drain(query)
    except Exception as exc:  # the query's own failure, with Spark's message
        raise AuthPulseError(f"the streaming job failed: {exc}") from exc
    for report in processor.history:
        totals["batches"] += 1
        totals["records"] += report.records
        totals["raw_events"] += report.records
        totals["quarantine"] += report.quarantined
        totals["auth_events"] += report.silver_rows
        totals["late_events"] += report.late
        totals["alerts"] += report.alerts_sent
    echo(f"streaming job drained the stream in {totals['batches']} micro-batches ({time.monotonic() - started:.1f} s in all):")
    for table in ("raw_events", "quarantine", "auth_events", "late_events"):
        echo(f"  {table:<12} +{totals[table]:,}")
    echo(f"  gold and risk tables rebuilt for the streamed day(s); {totals['alerts']} alert(s) sent from the stream")
    return totals


def risk_summary(settings: Settings, first: date, last: date, top: int = 10) -> str:
    """The riskiest users of the period with their reasons, alerts by severity, and what was delivered."""
    catalog = load_catalog(settings)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    f = days_filter(days)
    daily = scan_arrow(catalog, USER_RISK_DAILY,
        row_filter=f, selected_fields=("user_id", "event_date", "risk_score", "high_risk_events", "top_reasons")
    )
    best: dict[str, dict] = {}
    reasons: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for r in daily.to_pylist():
        reasons[r["user_id"]].update(r["top_reasons"])
        # The user's riskiest day; among equal scores, the one with the most evidence of its own.
        key = (r["risk_score"], r["high_risk_events"])
        if r["user_id"] not in best or key > (best[r["user_id"]]["risk_score"], best[r["user_id"]]["high_risk_events"]):
            best[r["user_id"]] = r
    ranked = sorted(best.values(), key=lambda r: (-r["risk_score"], -r["high_risk_events"], r["user_id"]))[:top]
    for r in ranked:  # reasons over the whole period: a day carried by earlier days has none of its own
        r["top_reasons"] = [name for name, _ in reasons[r["user_id"]].most_common(3)]
    lines = [f"top {top} risky users ({first} .. {last}, highest daily risk score):",
             f"  {'user':<8} {'day':<10} {'risk':>5} {'high-risk events':>16}  reasons (over the period)"]
    lines += [
        f"  {r['user_id']:<8} {r['event_date']!s:<10} {r['risk_score']:>5.1f} {r['high_risk_events']:>16}  "
        f"{', '.join(r['top_reasons']) or '-'}"
        for r in ranked if r["risk_score"] > 0
    ] or ["  (no user scored above 0: the rules need 7 days of history before they judge anyone)"]
    alerts = scan_arrow(catalog, ALERTS, row_filter=f, selected_fields=("severity",))
    by_sev = {k: v for k, v in sorted(collections.Counter(alerts["severity"].to_pylist()).items())}
    delivered = scan_arrow(catalog, ALERT_DELIVERIES, row_filter=f, selected_fields=("path",))
    by_path = collections.Counter(delivered["path"].to_pylist())
    lines += [
        "",
        f"alerts: {alerts.num_rows} ({', '.join(f'{n} {k}' for k, n in by_sev.items()) or 'none'}); "
        f"delivered through SNS: {delivered.num_rows} message(s) "
        f"({by_path.get('batch', 0)} from batch, {by_path.get('stream', 0)} from the stream) "
        f"to topic {settings.alert_topic}; read them with `authpulse alerts tail`",
        f"dashboard: {settings.home / 'dashboard' / 'index.html'}",
    ]
    return "\n".join(lines)


def start_stack(settings: Settings, echo=print) -> None:
    stack = local_stack.up(settings)
    apply_local_environment(settings)
    echo(f"local stack up at {stack.endpoint}")


def run_file(settings: Settings, input_path: Path, fmt: str, echo=print) -> tuple[date, date]:
    """Land a LANL file and materialize every batch asset for every day in it (``authpulse run``)."""
    with exclusive_home(settings, "run"):
        return run_landed(settings, _start_and_land(settings, input_path, fmt, echo), fmt, echo)


def _start_and_land(settings: Settings, input_path: Path, fmt: str, echo) -> Path:
    require_file(input_path)  # a typo is refused before the stack is started for nothing
    start_stack(settings, echo)
    landed = land_input(settings, input_path, fmt)
    echo(f"landed {input_path} as {landed}")
    return landed


def run_landed(settings: Settings, landed: Path, fmt: str, echo=print) -> tuple[date, date]:
    first, last = day_range(settings, landed, fmt)
    echo(f"materializing bronze → silver → gold → risk for {first} .. {last} through Dagster")
    with step_progress(echo):
        result = run_pipeline(settings, first, last)
    echo(f"dagster run {result.run_id} succeeded")
    return first, last


@contextlib.contextmanager
def step_progress(echo) -> Iterator[None]:
    """Echo a line per finished pipeline step (asset, days, rows, seconds) while a run works."""

    class _Echo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            echo(f"  {record.getMessage()}")

    handler, logger = _Echo(logging.INFO), logging.getLogger("authpulse.steps")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def run_demo(
    settings: Settings, input_path: Path | None, fmt: str, gen: GenerateOptions, echo=print, live: bool = True
) -> None:
    with exclusive_home(settings, "demo"):
        _run_demo(settings, input_path, fmt, gen, echo, live)


def _run_demo(settings: Settings, input_path: Path | None, fmt: str, gen: GenerateOptions, echo, live: bool) -> None:
    started = time.monotonic()
    live_file = None
    if input_path is None:
        start_stack(settings, echo)
        landed, live_file = generate_input(settings, gen, live_days=1 if live else 0)
        fmt = gen.fmt
        echo(f"generated {landed}" + (f" and one more day for the live path, {live_file}" if live_file else ""))
        if gen.attacks:
            echo(f"injected labelled attacks ({gen.attacks}); labels in {labels_path(settings)}")
        first, last = run_landed(settings, landed, fmt, echo)
    else:
        first, last = run_landed(settings, _start_and_land(settings, input_path, fmt, echo), fmt, echo)
    if live_file is not None:
        echo("")
        echo("live path: replaying the next day through Kinesis into the streaming job")
        run_live(settings, live_file, fmt, echo)
        last = last + timedelta(days=1)
    echo("")
    echo(summary(settings, first, last))
    echo("")
    echo(risk_summary(settings, first, last))
    if input_path is None and gen.attacks:
        from authpulse_dagster.evaluation.evaluate import evaluate
        from authpulse_dagster.evaluation.report import render_table

        echo("")
        echo("how the alerts compare with the injected attacks (authpulse evaluate):")
        echo(render_table(evaluate(settings, labels_path(settings))))
    echo(f"\ndemo finished in {time.monotonic() - started:.1f} s")
    echo(f"the local stack is still running on 127.0.0.1:{settings.moto_port} for `dagster dev` and `authpulse query`; "
         "stop it with `authpulse local down`")
