"""The daily reconciliation schedule: yesterday's silver and gold, at a configurable UTC hour."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import pytest

from authpulse_dagster.definitions import build_definitions
from authpulse_dagster.schedules import RECONCILE_JOB, SCHEDULE_NAME
from authpulse_dagster.settings import Settings


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as inst:
        yield inst


def test_schedule_requests_yesterday_of_its_tick_for_every_silver_and_gold_asset(settings, instance):
    defs = build_definitions(settings)
    schedule = defs.resolve_schedule_def(SCHEDULE_NAME)
    assert schedule.cron_schedule == "0 1 * * *" and schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING

    tick = datetime(2024, 1, 5, 1, 0, tzinfo=timezone.utc)
    ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick, repository_def=defs.get_repository_def())
    data = schedule.evaluate_tick(ctx)
    assert [r.partition_key for r in data.run_requests] == ["2024-01-04"]
    assert data.run_requests[0].tags["dagster/partition"] == "2024-01-04"

    # Just after midnight UTC, "yesterday" is still the calendar day before the tick.
    ctx = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2024, 3, 1, 0, 5, tzinfo=timezone.utc),
        repository_def=defs.get_repository_def(),
    )
    assert [r.partition_key for r in schedule.evaluate_tick(ctx).run_requests] == ["2024-02-29"]

    job = defs.resolve_job_def(RECONCILE_JOB)
    graph = defs.resolve_asset_graph()
    wanted = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name in ("silver", "gold") and graph.get(k).is_materializable}
    assert set(job.asset_layer.executable_asset_keys) == wanted
    assert dg.AssetKey("raw_events") not in wanted


def test_hour_and_switch_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("AUTHPULSE_SCHEDULE_HOUR", "6")
    monkeypatch.setenv("AUTHPULSE_SENSORS", "off")
    schedule = build_definitions(Settings()).resolve_schedule_def(SCHEDULE_NAME)
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_bad_hour_stops_the_load_with_one_line(monkeypatch):
    from authpulse_dagster.errors import ConfigError

    monkeypatch.setenv("AUTHPULSE_SCHEDULE_HOUR", "25")
    with pytest.raises(ConfigError, match=r"^AUTHPULSE_SCHEDULE_HOUR=25 must be between 0 and 22$"):
        build_definitions(Settings())
