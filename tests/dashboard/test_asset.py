"""The dashboard step and the ``risk_dashboard`` asset: metadata, the runner, and refresh on gold changes."""

from __future__ import annotations

from datetime import date, datetime, timezone

import dagster as dg

from authpulse_dagster.assets.dashboard import DASHBOARD_DEPS, GOLD_CHANGED, build_dashboard_assets, build_dashboard_sensors
from authpulse_dagster.dashboard.build import CHART_IDS
from authpulse_dagster.resources.step_runner import LocalStepRunner
from authpulse_dagster.steps.context import StepContext
from authpulse_dagster.steps.dashboard import run_dashboard
from authpulse_dagster.steps.registry import STEPS
from tests.queries.seed import seed


def test_step_writes_the_page_and_reports_it(settings, catalog):
    seed(catalog, only=("user_risk_daily", "alerts", "host_popularity"))
    result = run_dashboard(StepContext(settings, [date(2024, 2, 1)], run_id="r1"))
    meta = result.metadata["risk_dashboard"]
    path = settings.home / "dashboard" / "index.html"
    assert meta["path"] == str(path) and path.stat().st_size == meta["bytes"]
    assert meta["charts"] == list(CHART_IDS)
    assert (meta["data_as_of"], meta["window_start"]) == ("2024-01-05", "2024-01-01")
    assert (meta["top_users"], meta["alerts_in_window"]) == (3, 3)
    assert STEPS["risk_dashboard"] is run_dashboard


def test_asset_definition():
    (asset,) = build_dashboard_assets()
    key = dg.AssetKey("risk_dashboard")
    spec = next(iter(asset.specs))
    assert asset.key == key and asset.partitions_def is None
    assert spec.group_name == "analyst" and spec.kinds == {"plotly", "html"}
    assert {d.asset_key for d in spec.deps} == set(DASHBOARD_DEPS)
    assert {k.to_user_string() for k in DASHBOARD_DEPS} == {"risk_scores", "user_risk_daily", "alerts", "host_popularity"}
    assert spec.automation_condition is GOLD_CHANGED and spec.description
    (sensor,) = build_dashboard_sensors()
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_materializes_through_the_step_runner(settings, catalog):
    """Unpartitioned, in process: the runner hands the step the run's day; the page lands in the home."""
    seed(catalog, only=("host_popularity",))
    result = dg.materialize(build_dashboard_assets(), resources={"step_runner": LocalStepRunner(home=str(settings.home))})
    assert result.success
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    assert meta["data_as_of"].value == "2024-01-05"
    assert meta["charts"].value == list(CHART_IDS)
    assert (settings.home / "dashboard" / "index.html").stat().st_size == meta["bytes"].value


def test_materializes_through_pipes(settings, catalog):
    """The same asset as a ``python -m authpulse_dagster.steps`` subprocess (what a remote runner does)."""
    seed(catalog, only=("host_popularity",))
    runner = LocalStepRunner(mode="pipes", home=str(settings.home))
    result = dg.materialize(build_dashboard_assets(), resources={"step_runner": runner})
    assert result.success
    (event,) = result.get_asset_materialization_events()
    assert event.materialization.metadata["data_as_of"].value == "2024-01-05"
    assert (settings.home / "dashboard" / "index.html").exists()


def _gold_stand_ins() -> list[dg.AssetsDefinition]:
    """Partitioned assets under the gold tables' keys, so the test can 'update gold' cheaply."""
    daily = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")

    def make(key: dg.AssetKey) -> dg.AssetsDefinition:
        @dg.asset(key=key, partitions_def=daily)
        def _gold() -> None:
            return None

        return _gold

    return [make(k) for k in DASHBOARD_DEPS]


def test_rebuilds_when_gold_changes_and_only_then(settings):
    gold = _gold_stand_ins()
    (dashboard,) = build_dashboard_assets()
    defs = dg.Definitions(assets=[*gold, dashboard], resources={"step_runner": LocalStepRunner(home=str(settings.home))})
    instance = dg.DagsterInstance.ephemeral()
    key = dg.AssetKey("risk_dashboard")
    now = datetime(2024, 1, 10, tzinfo=timezone.utc)

    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=now)
    assert first.get_num_requested(key) == 0  # nothing changed yet

    # A gold partition is written: the page is due...
    dg.materialize([gold[1]], partition_key="2024-01-05", instance=instance)
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor, evaluation_time=now)
    assert second.get_num_requested(key) == 1

    # ...and once it is rebuilt, nothing more is asked until gold changes again.
    dg.materialize([dashboard], instance=instance, resources={"step_runner": LocalStepRunner(home=str(settings.home))})
    third = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor, evaluation_time=now)
    assert third.get_num_requested(key) == 0
    dg.materialize([gold[3]], partition_key="2024-01-06", instance=instance)
    fourth = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=third.cursor, evaluation_time=now)
    assert fourth.get_num_requested(key) == 1
