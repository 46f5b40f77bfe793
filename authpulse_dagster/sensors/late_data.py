"""Late-data sensor: bronze received rows for a day after that day's silver/gold were built.

Every commit to bronze ``raw_events`` is looked at once (the cursor keeps the
newest snapshot time seen). The days a commit touched are read from the
partition values of the data files it added. A day is **late** when the
commit came after the start of the Dagster run that produced the newest
materialization of one of that day's silver or gold assets — compared with
the run's start, not the materialization's time, because the run may have
read bronze before the commit landed; the run that wrote the commit itself
(a bronze + silver + gold run) does not count. Days Dagster never
materialized are not late: nothing was built from them yet (the daily
schedule picks them up).

The streaming job's own ``late_events`` commits (events behind its watermark,
which silver left out) make their days late as well, unless every silver and
gold asset of the day was rebuilt by a Dagster run started after the commit
(a rebuild from bronze includes them).

Late days are re-materialized with one backfill of the silver and gold
assets. While a day's backfill has not run yet (no materialization from a run
started after the request), new late commits for it are held rather than
requested again, and requested once when that backfill has run — so a stream
that keeps writing into a built day causes at most one backfill in flight
per day, not one per tick. A request that never runs (cancelled, failed) is
released after ``PENDING_TIMEOUT``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Callable

import dagster as dg

from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.lakehouse.schemas import LATE_EVENTS, RAW_EVENTS
from authpulse_dagster.sensors.backfill import SILVER_GOLD, TRIGGER_TAG, plan_backfill, silver_gold_keys
from authpulse_dagster.sensors.config import OpsConfig
from authpulse_dagster.sensors.lakehouse_reads import Commit, commits_after, days_added_by, load_if_exists
from authpulse_dagster.settings import Settings

log = logging.getLogger(__name__)

SENSOR_NAME = "late_data_sensor"
PENDING_TIMEOUT = timedelta(hours=6)
# Commits examined per table and tick: the first tick on a long history catches up over several ticks
# instead of outliving the tick's time limit (a stream commits every few seconds).
MAX_COMMITS_PER_TICK = 200


def _this_tick(commits: list[Commit]) -> list[Commit]:
    """The oldest commits up to the per-tick budget, never splitting commits of the same millisecond
    (the cursor is a time: a commit left behind at the cursor's own millisecond would never be seen)."""
    if len(commits) <= MAX_COMMITS_PER_TICK:
        return commits
    last = commits[MAX_COMMITS_PER_TICK - 1].committed_at
    return [c for c in commits if c.committed_at <= last]


@dataclass
class LateCursor:
    bronze_ms: int = 0  # newest raw_events snapshot already examined (epoch ms)
    late_events_ms: int = 0  # newest late_events snapshot already examined
    pending: dict[str, int] = field(default_factory=dict)  # day -> when its backfill was requested (ms)
    held: dict[str, int] = field(default_factory=dict)  # day -> newest late commit seen while pending (ms)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | None) -> "LateCursor":
        return cls(**json.loads(raw)) if raw else cls()


@dataclass(frozen=True)
class Built:
    """The newest materialization of an asset for a day: which run, and when that run started (ms)."""

    run_id: str
    started_ms: int


def latest_builds(instance: dg.DagsterInstance, keys: list[dg.AssetKey], day: date) -> list[Built]:
    """For each asset with a materialization of ``day``, the run that made the newest one."""
    out = []
    for key in keys:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day.isoformat()]), limit=1
        ).records
        if not records:
            continue
        entry = records[0].event_log_entry
        run = instance.get_run_record_by_id(entry.run_id) if entry.run_id else None
        started = run.start_time if run is not None and run.start_time else entry.timestamp
        out.append(Built(entry.run_id, int(started * 1000)))
    return out


def evaluate(
    cursor: LateCursor,
    settings: Settings,
    builds_for: Callable[[date], list[Built]],
    expected: int,
    now_ms: int,
) -> tuple[LateCursor, dict[date, int]]:
    """Advance over new commits; return the new cursor and the days to request (day -> newest late commit).

    ``builds_for(day)`` gives the newest build of each silver/gold asset of
    the day; ``expected`` is how many such assets there are.
    """
    catalog = load_catalog(settings)
    late: dict[date, int] = {}
    cache: dict[date, list[Built]] = {}

    def builds(day: date) -> list[Built]:
        if day not in cache:
            cache[day] = builds_for(day)
        return cache[day]

    def mark(day: date, at_ms: int) -> None:
        late[day] = max(at_ms, late.get(day, 0))

    bronze_ms, late_ms = cursor.bronze_ms, cursor.late_events_ms
    bronze = load_if_exists(catalog, RAW_EVENTS.name)
    if bronze is not None:
        for commit in _this_tick(commits_after(bronze, cursor.bronze_ms)):
            at = int(commit.committed_at.timestamp() * 1000)
            bronze_ms = max(bronze_ms, at)
            for day in days_added_by(bronze, commit.snapshot_id):
                others = [b for b in builds(day) if b.run_id != commit.run_id]
                if any(b.started_ms < at for b in others):
                    mark(day, at)
    late_table = load_if_exists(catalog, LATE_EVENTS.name)
    if late_table is not None:
        for commit in _this_tick(commits_after(late_table, cursor.late_events_ms)):
            at = int(commit.committed_at.timestamp() * 1000)
            late_ms = max(late_ms, at)
            for day in days_added_by(late_table, commit.snapshot_id):
                # Unless every silver/gold asset of the day was rebuilt by a run that started after the commit.
                done = builds(day)
                if len(done) < expected or any(b.started_ms < at for b in done):
                    mark(day, at)

    pending, held = dict(cursor.pending), dict(cursor.held)
    request: dict[date, int] = {}
    # Pending days whose backfill has run (or was given up on) are released; held commits newer than it go again.
    for key, requested_ms in list(pending.items()):
        day = date.fromisoformat(key)
        ran = [b.started_ms for b in builds(day) if b.started_ms >= requested_ms]
        expired = now_ms - requested_ms > PENDING_TIMEOUT.total_seconds() * 1000
        if ran or expired:
            del pending[key]
            newest = held.pop(key, None)
            if newest is not None and (expired or newest > min(ran)):
                request[day] = newest
    for day, at in late.items():
        if day.isoformat() in pending:
            held[day.isoformat()] = max(at, held.get(day.isoformat(), 0))
        else:
            request[day] = max(at, request.get(day, 0))
    for day in request:
        pending[day.isoformat()] = now_ms
    return LateCursor(bronze_ms, late_ms, pending, held), request


def build_late_data_sensor(settings: Settings, ops: OpsConfig) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR_NAME,
        description=(
            "Bronze raw_events commits for a day after that day's silver/gold were materialized (or late_events "
            "from the streaming job) → one backfill of silver + gold for exactly those days."
        ),
        minimum_interval_seconds=max(ops.sensor_interval_seconds, 60),
        asset_selection=SILVER_GOLD,
        default_status=dg.DefaultSensorStatus.RUNNING if ops.sensors_on else dg.DefaultSensorStatus.STOPPED,
    )
    def late_data_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        graph = context.repository_def.asset_graph
        keys = silver_gold_keys(graph)
        now_ms = int(datetime.now(timezone.utc).timestamp() * 1000)
        cursor, request = evaluate(
            LateCursor.from_json(context.cursor), settings,
            lambda day: latest_builds(context.instance, keys, day), len(keys), now_ms,
        )
        plan = plan_backfill(graph, request, {TRIGGER_TAG: SENSOR_NAME})
        if plan.skipped:
            # Not partitions yet: release them so the next tick does not wait on a backfill that was never asked for.
            for key in plan.skipped:
                cursor.pending.pop(key, None)
        if plan.request is None:
            return dg.SensorResult(cursor=cursor.to_json(), skip_reason="no late data for built days")
        context.log.info(f"late data for {[d.isoformat() for d in plan.days]}: requesting one backfill")
        return dg.SensorResult(run_requests=[plan.request], cursor=cursor.to_json())

    return late_data_sensor
