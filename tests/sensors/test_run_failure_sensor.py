"""The run-failure sensor: a real failed AuthPulse run on a real instance becomes one SNS alert read back from SQS."""

from __future__ import annotations

from datetime import date

import dagster as dg

from authpulse_dagster import notify
from authpulse_dagster.definitions import build_definitions
from authpulse_dagster.orchestrate import materialize_days
from authpulse_dagster.sensors.config import OpsConfig
from authpulse_dagster.sensors.run_failure import build_run_failure_sensor, partition_of


def test_a_failed_pipeline_run_is_one_alert_with_run_job_partition_and_error(aws_env, aws_resources, instance, monkeypatch):
    settings = aws_env
    defs = build_definitions(settings)
    # A setting the steps read when they run, broken: the run fails in its first step, as it would for a user.
    monkeypatch.setenv("AUTHPULSE_MAX_LINE_BYTES", "not-a-number")
    result = materialize_days(defs, date(2024, 1, 2), date(2024, 1, 3), instance)
    assert not result.success

    sensor = build_run_failure_sensor(settings, OpsConfig())
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()
    sensor(context)

    messages = notify.receive(settings, wait_seconds=1)
    assert len(messages) == 1
    alert = messages[0]
    assert alert.attributes == {"kind": "run_failure", "severity": "error", "run_id": result.run_id}
    body = alert.body
    assert body["run_id"] == result.run_id and body["job"] == "daily_pipeline"
    assert body["partition"] == "2024-01-02...2024-01-03"
    assert body["failed_steps"] and "AUTHPULSE_MAX_LINE_BYTES" in body["error"]
    assert len(body["error"].splitlines()) <= 12
    # The exception the code raised comes first, not Dagster's wrapper around it.
    assert body["error"].startswith("authpulse_dagster.errors.ConfigError: AUTHPULSE_MAX_LINE_BYTES='not-a-number'")
    assert body["subject"].startswith("AuthPulse run failed: daily_pipeline [2024-01-02...2024-01-03]")


def test_partition_of_reads_single_keys_and_ranges():
    assert partition_of({"dagster/partition": "2024-01-05"}) == "2024-01-05"
    assert partition_of({"dagster/asset_partition_range_start": "2024-01-01",
                         "dagster/asset_partition_range_end": "2024-01-01"}) == "2024-01-01"
    assert partition_of({}) is None
