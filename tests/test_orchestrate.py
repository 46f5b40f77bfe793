"""Materializing through Dagster: a real run on a temporary instance, with metadata and checks."""

import os
from datetime import date

import dagster as dg
import pytest

from authpulse_dagster.definitions import build_definitions
from authpulse_dagster.orchestrate import materialize_days
from tests.fixtures.lakehouse import land


@pytest.fixture
def instance(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as inst:
        yield inst


def test_daily_pipeline_materializes_every_asset_for_a_range_in_one_run(settings, spark, instance):
    land(settings, "lanl2014", "x.txt", b"1,U1,C1\n2,U2,C1\nnot a line\n86401,U1,C2\n")
    result = materialize_days(build_definitions(settings), date(2024, 1, 1), date(2024, 1, 2), instance)
    assert result.success
    mats = {(m.asset_key.to_user_string(), m.partition): m.metadata for m in
            (e.materialization for e in result.get_asset_materialization_events())}
    for asset in ["raw_events", "auth_events", "quarantine", "user_host_daily", "user_behavior", "host_popularity"]:
        assert (asset, "2024-01-01") in mats and (asset, "2024-01-02") in mats, asset
    meta = mats[("auth_events", "2024-01-01")]
    assert meta["dagster/row_count"].value == 3
    assert meta["quarantined"].value == 1
    assert meta["snapshot_id"].value is not None and meta["rows_by_day"].value == {"2024-01-01": 2, "2024-01-02": 1}
    checks = {(c.asset_key.to_user_string(), c.check_name): c.passed for c in result.get_asset_check_evaluations()}
    assert checks[("auth_events", "row_conservation")] is True
    assert checks[("auth_events", "event_id_unique")] is True
    assert checks[("quarantine", "quarantine_rate")] is False  # 1 of 4 lines
    # The run is recorded in the instance, as `dagster dev` would show it.
    assert instance.get_run_by_id(result.run_id).tags["dagster/asset_partition_range_start"] == "2024-01-01"
    status = instance.get_latest_materialization_event(dg.AssetKey("host_popularity"))
    assert status is not None


def test_a_failing_step_fails_the_run_and_names_the_error(settings, spark, instance, monkeypatch):
    monkeypatch.setenv("AUTHPULSE_MAX_LINE_BYTES", "not-a-number")
    result = materialize_days(build_definitions(settings.__class__()), date(2024, 1, 1), date(2024, 1, 1), instance)
    assert not result.success
    errors = [e.event_specific_data.error.to_string() for e in result.all_events if e.is_step_failure]
    assert any("AUTHPULSE_MAX_LINE_BYTES" in m for m in errors)


def test_pipes_mode_runs_each_step_as_a_subprocess_and_reports_the_same(settings, spark, instance, monkeypatch):
    """The seam an EMR runner uses: `python -m authpulse_dagster.steps` launched through Dagster Pipes."""
    monkeypatch.setenv("AUTHPULSE_STEP_MODE", "pipes")
    land(settings, "lanl2014", "x.txt", b"1,U1,C1\n2,U2,C1\nnot a line\n")
    from authpulse_dagster.settings import Settings

    # Two steps are enough to show the seam (each subprocess starts its own Spark).
    assets = ["raw_events", "auth_events", "quarantine"]
    result = materialize_days(build_definitions(Settings.from_env()), date(2024, 1, 1), date(2024, 1, 1), instance, assets=assets)
    assert result.success
    mats = {e.materialization.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()}
    assert mats["auth_events"]["dagster/row_count"].value == 2
    assert mats["quarantine"]["by_reason"].value == {"wrong_field_count": 1}
    assert set(mats) == set(assets)
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["row_conservation"] is True
    # The steps really ran in other processes, and said so over Pipes (silver writes two assets).
    pids = {int(m["step_process"].value.rsplit(" ", 1)[1]) for m in mats.values()}
    assert len(pids) == 2 and os.getpid() not in pids
