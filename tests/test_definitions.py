"""The code location: loads cleanly, and every asset is described, grouped and tagged."""

import warnings

import dagster as dg

from authpulse_dagster.definitions import build_definitions
from authpulse_dagster.settings import Settings

EXPECTED = {
    "landing_files": "bronze",
    "raw_events": "bronze",
    "auth_events": "silver",
    "quarantine": "silver",
    "late_events": "silver",
    "user_host_daily": "gold",
    "user_behavior": "gold",
    "host_popularity": "gold",
    "user_route_daily": "gold",
    "risk_scores": "gold",
    "host_risk_daily": "gold",
    "user_risk_daily": "gold",
    "alerts": "gold",
    "alert_deliveries": "gold",
    "risk_dashboard": "analyst",
    "table_maintenance": "maintenance",
}
# Written outside the daily pipeline: by the stream (late_events), by the maintenance job (its report),
# or rebuilt when gold changes (the dashboard); the rest are daily partitions of the pipeline.
NOT_DAILY = {"landing_files", "late_events", "risk_dashboard", "table_maintenance"}


def test_definitions_load_without_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import importlib

        import authpulse_dagster.definitions as module

        importlib.reload(module)
        module.defs.resolve_all_job_defs()
    ours = [w for w in caught if "dagster" in str(w.category.__module__) or "authpulse" in str(w.filename)]
    assert ours == [], [str(w.message) for w in ours]


def test_every_asset_has_group_description_and_kinds():
    graph = build_definitions(Settings()).resolve_asset_graph()
    got = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        got[key.to_user_string()] = node.group_name
        assert node.description, key
        name = key.to_user_string()
        if name == "risk_dashboard":  # one page, rebuilt when gold changes
            assert node.partitions_def is None and "html" in node.kinds, key
        elif name == "late_events":  # the stream appends it; Dagster observes it, never materializes it
            assert not node.is_materializable and "iceberg" in node.kinds, key
        elif name == "table_maintenance":  # all tables, all days: not a partition of anything
            assert node.partitions_def is None and node.is_materializable, key
        elif name != "landing_files":
            assert "iceberg" in node.kinds, key
            assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition), key
            assert node.backfill_policy == dg.BackfillPolicy.single_run(), key
    assert got == EXPECTED


def test_lineage_runs_bronze_to_gold():
    graph = build_definitions(Settings()).resolve_asset_graph()
    parents = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys} for k in graph.get_all_asset_keys()}
    assert parents["raw_events"] == {"landing_files"}
    assert parents["auth_events"] == {"raw_events"}
    assert parents["user_behavior"] == {"auth_events", "user_host_daily"}
    assert parents["host_popularity"] == {"user_host_daily"}
    assert parents["risk_scores"] == {"auth_events", "user_host_daily", "user_behavior", "host_popularity", "user_route_daily"}
    assert parents["host_risk_daily"] == {"user_host_daily", "user_route_daily", "risk_scores"}
    assert parents["user_risk_daily"] == {"risk_scores", "host_risk_daily"}
    assert parents["alerts"] == {"user_risk_daily", "host_risk_daily", "risk_scores"}


def test_daily_pipeline_covers_every_materializable_asset():
    job = build_definitions(Settings()).resolve_job_def("daily_pipeline")
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert keys == set(EXPECTED) - NOT_DAILY


def test_partitions_start_at_the_dataset_epoch(monkeypatch):
    monkeypatch.setenv("AUTHPULSE_DATASET_EPOCH", "2015-03-02")
    defs = build_definitions(Settings.from_env())
    pdef = defs.resolve_asset_graph().get(dg.AssetKey("auth_events")).partitions_def
    assert pdef.get_first_partition_key() == "2015-03-02"
