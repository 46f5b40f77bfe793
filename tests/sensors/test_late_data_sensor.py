"""The late-data sensor on real Iceberg tables and a real Dagster instance with real pipeline runs."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pytest

from authpulse_dagster.definitions import build_definitions
from authpulse_dagster.orchestrate import materialize_days
from authpulse_dagster.sensors.backfill import requested_days, silver_gold_keys
from authpulse_dagster.sensors.late_data import PENDING_TIMEOUT, Built, LateCursor, SENSOR_NAME, evaluate
from tests.fixtures.lakehouse import land
from tests.sensors.lakehouse_rows import append_bronze, append_late_events, kinesis_rows



def silver_gold(defs) -> set[str]:
    """The silver and gold assets as the definitions hold them now (the gold group grows)."""
    keys = {k.to_user_string() for k in silver_gold_keys(defs.resolve_asset_graph())}
    assert {"auth_events", "quarantine", "user_host_daily", "user_behavior", "host_popularity"} <= keys
    return keys
DAY1, DAY2 = date(2024, 1, 1), date(2024, 1, 2)


def _tick(defs, instance, cursor):
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs))


@pytest.mark.slow  # two pipeline runs on local Spark
def test_rows_landing_after_a_day_was_built_request_that_day_once(settings, spark, instance):
    defs = build_definitions(settings)
    land(settings, "lanl2014", "x.txt", b"1,U1,C1\n2,U2,C1\n86401,U1,C2\n")
    assert materialize_days(defs, DAY1, DAY2, instance).success

    # The pipeline's own bronze commits came before its silver and gold: not late.
    first = _tick(defs, instance, None)
    assert first.run_requests == []

    # The stream lands more rows for day 2 after it was built: day 2, and only day 2, is rebuilt.
    now = datetime.now(timezone.utc)
    append_bronze(settings, kinesis_rows(DAY2, 2, now, now, "straggler"))
    second = _tick(defs, instance, first.cursor)
    assert len(second.run_requests) == 1
    request = second.run_requests[0]
    assert request.requires_backfill_daemon() and request.tags["authpulse/trigger"] == SENSOR_NAME
    assert requested_days(request) == {asset: {"2024-01-02"} for asset in silver_gold(defs)}

    # More rows while that backfill has not run: held, not requested again (no storm).
    append_bronze(settings, kinesis_rows(DAY2, 1, now, now, "another"))
    third = _tick(defs, instance, second.cursor)
    assert third.run_requests == []
    assert "2024-01-02" in json.loads(third.cursor)["held"]

    # The backfill runs (the reconcile job for day 2): it read everything held, so nothing is asked again.
    job = defs.resolve_job_def("reconcile_silver_gold")
    assert job.execute_in_process(instance=instance, partition_key="2024-01-02").success
    fourth = _tick(defs, instance, third.cursor)
    assert fourth.run_requests == []
    assert json.loads(fourth.cursor)["pending"] == {} and json.loads(fourth.cursor)["held"] == {}

    # Events the stream left behind its watermark for day 1 make day 1 late too.
    append_late_events(settings, DAY1)
    fifth = _tick(defs, instance, fourth.cursor)
    assert [requested_days(r) for r in fifth.run_requests] == [{asset: {"2024-01-01"} for asset in silver_gold(defs)}]


def test_days_never_built_by_dagster_are_not_late(settings, instance):
    defs = build_definitions(settings)
    now = datetime.now(timezone.utc)
    append_bronze(settings, kinesis_rows(DAY1, 2, now, now))
    assert _tick(defs, instance, None).run_requests == []


def test_held_commits_are_requested_again_when_the_backfill_ran_before_them(settings):
    """The pending/held bookkeeping, driven with explicit builds (no tables needed beyond an empty catalog)."""
    t = 1_700_000_000_000
    cursor = LateCursor(bronze_ms=t, late_events_ms=t, pending={"2024-01-02": t}, held={"2024-01-02": t + 5_000})
    # The backfill's run started at t + 1 s, before the held commit at t + 5 s: that commit needs another run.
    builds = {DAY2: [Built("r1", t + 1_000)] * 5}
    new, request = evaluate(cursor, settings, lambda d: builds.get(d, []), 5, t + 10_000)
    assert request == {DAY2: t + 5_000} and new.pending == {"2024-01-02": t + 10_000} and new.held == {}
    # A request that never ran is released after the timeout, and what it held goes again.
    cursor = LateCursor(bronze_ms=t, late_events_ms=t, pending={"2024-01-02": t}, held={"2024-01-02": t + 5_000})
    late = t + int(PENDING_TIMEOUT.total_seconds() * 1000) + 1
    new, request = evaluate(cursor, settings, lambda d: [], 5, late)
    assert request == {DAY2: t + 5_000}
    # Still within the timeout and not run: nothing happens.
    new, request = evaluate(cursor, settings, lambda d: [], 5, t + 60_000)
    assert request == {} and new.pending == cursor.pending and new.held == cursor.held


def test_a_long_history_is_read_over_several_ticks_without_losing_same_millisecond_commits():
    from authpulse_dagster.sensors import late_data
    from authpulse_dagster.sensors.lakehouse_reads import Commit

    t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    n = late_data.MAX_COMMITS_PER_TICK
    commits = [Commit(i, t + timedelta(milliseconds=i), {}) for i in range(n - 1)]
    commits += [Commit(1000 + i, t + timedelta(milliseconds=n), {}) for i in range(3)]  # three in one millisecond
    commits += [Commit(2000, t + timedelta(seconds=5), {})]
    batch = late_data._this_tick(commits)
    assert len(batch) == n + 2 and batch[-1].snapshot_id == 1002
