"""Gold freshness checks: built for every gold asset, run by their sensor, judged against a real instance."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from authpulse_dagster.checks.freshness import SENSOR_NAME, build_freshness_checks, gold_daily_keys
from authpulse_dagster.definitions import build_definitions
from authpulse_dagster.sensors.config import OpsConfig


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as inst:
        yield inst


def _expected_partition(ops: OpsConfig) -> str:
    """The day whose partition must exist now: yesterday once today's deadline passed, else the day before."""
    now = datetime.now(timezone.utc)
    back = 1 if now.hour >= ops.freshness_hour else 2
    return (now.date() - timedelta(days=back)).isoformat()


def test_every_gold_asset_gets_a_warn_freshness_check_and_silver_checks_stay(settings):
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    gold = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "gold"}
    checks = {(k.asset_key, k.name) for k in graph.asset_check_keys}
    assert gold and {(k, "freshness_check") for k in gold} <= checks
    # The foundation's checks are still there, beside the new ones.
    assert {(dg.AssetKey("auth_events"), n) for n in ("event_id_unique", "row_conservation", "user_and_computer_not_null")} <= checks
    assert (dg.AssetKey("quarantine"), "quarantine_rate") in checks
    assert not any(k.asset_key not in gold for k in graph.asset_check_keys if k.name == "freshness_check")


def test_gold_assets_are_found_by_group(settings):
    extra = dg.AssetSpec("risk_scores_example", group_name="gold")
    @dg.asset(name="new_gold_table", group_name="gold", partitions_def=dg.DailyPartitionsDefinition("2024-01-01"))
    def new_gold_table():
        return None

    keys = gold_daily_keys([extra, new_gold_table])
    assert keys == [dg.AssetKey("new_gold_table")]  # partitioned gold assets only; a spec is no AssetsDefinition
    assert build_freshness_checks([], OpsConfig()).sensor is None


def test_sensor_runs_the_checks_and_they_warn_until_yesterday_is_materialized(settings, instance):
    ops = OpsConfig()
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
    assert len(tick.run_requests) == 1
    check_keys = set(tick.run_requests[0].asset_check_keys)
    assert {k.name for k in check_keys} == {"freshness_check"}

    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=set(), asset_check_selection=check_keys)
    first = job.execute_in_process(instance=instance)
    results = {e.asset_key.to_user_string(): e for e in first.get_asset_check_evaluations()}
    assert results and not any(e.passed for e in results.values())
    assert {e.severity for e in results.values()} == {dg.AssetCheckSeverity.WARN}

    # Yesterday's partition of one gold table arrives (as the daily schedule would produce it): that check passes.
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="user_host_daily", partition=_expected_partition(ops))
    )
    second = job.execute_in_process(instance=instance)
    passed = {e.asset_key.to_user_string(): e.passed for e in second.get_asset_check_evaluations()}
    assert passed["user_host_daily"] is True
    assert not any(v for k, v in passed.items() if k != "user_host_daily")
