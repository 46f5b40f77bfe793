"""Switching AUTHPULSE_ENV changes what sits behind the resource keys, nothing else."""

from __future__ import annotations

import importlib

import dagster as dg
import pytest

from authpulse_dagster.aws_emr.step_runner import EmrStepRunner
from authpulse_dagster.aws_emr.streaming import EmrStreamingJobResource
from authpulse_dagster.resources.step_runner import LocalStepRunner
from authpulse_dagster.resources.streaming import StreamingJobResource
from authpulse_dagster.resources.streaming_for_env import streaming_resource
from authpulse_dagster.settings import Settings
from tests.test_settings_aws import VALID


def _shape(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assets[key.to_user_string()] = (
            node.group_name, node.description, sorted(node.kinds), sorted(p.to_user_string() for p in node.parent_keys),
            node.partitions_def, node.backfill_policy,
        )
    checks = sorted(str(k) for k in graph.asset_check_keys)
    jobs = sorted(j.name for j in defs.resolve_all_job_defs())
    return {"assets": assets, "checks": checks, "jobs": jobs, "resource_keys": sorted(defs.resources)}


def _load(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import authpulse_dagster.definitions as module

    return importlib.reload(module).defs


def test_the_same_definitions_load_in_both_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    # No AWS endpoint is reachable here: loading in aws mode must not call AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AUTHPULSE_DATASET_EPOCH", "2024-01-01")
    local = _load(monkeypatch, {"AUTHPULSE_ENV": "local"})
    aws = _load(monkeypatch, VALID)
    try:
        assert _shape(local) == _shape(aws)
        assert "athena_query" in _shape(aws)["jobs"]
        assert isinstance(local.resources["step_runner"], LocalStepRunner)
        assert type(local.resources["streaming"]) is StreamingJobResource
        assert isinstance(aws.resources["step_runner"], EmrStepRunner)
        assert isinstance(aws.resources["streaming"], EmrStreamingJobResource)
        # Every job resolves (a missing resource would raise here) and needs the same resources in both
        # modes: the steps through step_runner, the streaming jobs through streaming.
        needs = [{job.name: job.required_resource_keys for job in d.resolve_all_job_defs()} for d in (local, aws)]
        assert needs[0] == needs[1]
        assert "step_runner" in needs[1]["daily_pipeline"] and "streaming" in needs[1]["start_streaming"]
    finally:
        monkeypatch.setenv("AUTHPULSE_ENV", "local")
        import authpulse_dagster.definitions as module

        importlib.reload(module)


def test_streaming_resource_follows_the_environment() -> None:
    assert type(streaming_resource(Settings.from_env({"AUTHPULSE_ENV": "local"}))) is StreamingJobResource
    assert isinstance(streaming_resource(Settings.from_env(VALID), trigger_seconds=5), EmrStreamingJobResource)
