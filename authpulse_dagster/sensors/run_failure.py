"""Run-failure sensor: every failed Dagster run of this code location becomes one SNS alert.

The alert names the run id, the job, the assets it was materializing, the
partition (or partition range of a single-run backfill), the failed steps and
the first lines of each error, so the person paged knows what to re-run
without opening the UI. Dagster's run-status sensor machinery keeps its own
cursor over the run-failure events, so each failed run is reported once,
also across daemon restarts.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG, PARTITION_NAME_TAG

from authpulse_dagster import notify
from authpulse_dagster.local_stack import apply_local_environment
from authpulse_dagster.sensors.config import OpsConfig
from authpulse_dagster.settings import Settings

SENSOR_NAME = "run_failure_alert_sensor"
KIND = "run_failure"
ERROR_LINES = 12  # enough for the exception and its innermost frames


def partition_of(tags: dict[str, str]) -> str | None:
    """The partition a run worked on: one key, ``first...last`` for a range, or None."""
    if tags.get(PARTITION_NAME_TAG):
        return tags[PARTITION_NAME_TAG]
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start}...{end}"
    return None


def first_lines(text: str, n: int = ERROR_LINES) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[:n])


def describe_error(error: Any, n: int = ERROR_LINES) -> str:
    """The error that started it all first (Dagster wraps a step's exception), then its innermost frames.

    ``error`` is a ``SerializableErrorInfo``; its ``cause`` chain ends at the
    exception the code raised, which is what the reader needs.
    """
    root = error
    while getattr(root, "cause", None) is not None:
        root = root.cause
    message = root.message.strip()
    # The message usually reads "ConfigError: ..." already; add the class name only when it does not.
    named = not root.cls_name or message.split(":", 1)[0].endswith(root.cls_name)
    head = message if named else f"{root.cls_name}: {message}"
    frames = [line.rstrip() for frame in root.stack[-3:] for line in frame.splitlines() if line.strip()]
    wrapper = error.message.strip().splitlines()[0] if root is not error and error.message.strip() else None
    lines = [*head.splitlines(), *frames, *([f"(reported as: {wrapper})"] if wrapper else [])]
    return "\n".join(lines[:n])


def failure_message(context: dg.RunFailureSensorContext) -> tuple[str, dict[str, Any]]:
    """Subject and body of the alert for one failed run."""
    run = context.dagster_run
    tags = dict(run.tags)
    steps = []
    for event in context.get_step_failure_events():
        error = getattr(event.event_specific_data, "error", None)
        steps.append({"step": event.step_key, "error": describe_error(error) if error else first_lines(event.message or "")})
    run_error = getattr(context.failure_event.event_specific_data, "error", None)
    assets = sorted(k.to_user_string() for k in (run.asset_selection or []))
    partition = partition_of(tags)
    body = {
        "run_id": run.run_id,
        "job": run.job_name,
        "assets": assets,
        "partition": partition,
        "backfill_id": tags.get("dagster/backfill"),
        "failed_steps": steps,
        "error": steps[0]["error"] if steps else (describe_error(run_error) if run_error else first_lines(context.failure_event.message or "")),
        "run_message": context.failure_event.message,
    }
    what = ", ".join(assets) if assets and len(assets) <= 3 else run.job_name
    subject = f"AuthPulse run failed: {what}" + (f" [{partition}]" if partition else "")
    return subject, body


def build_run_failure_sensor(settings: Settings, ops: OpsConfig) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name=SENSOR_NAME,
        description="Any failed run → one SNS alert with run id, job or assets, partition and the first lines of the error.",
        minimum_interval_seconds=ops.sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING if ops.sensors_on else dg.DefaultSensorStatus.STOPPED,
    )
    def run_failure_alert_sensor(context: dg.RunFailureSensorContext) -> None:
        apply_local_environment(settings)
        subject, body = failure_message(context)
        message_id = notify.publish(settings, KIND, subject, body, {"severity": "error", "run_id": body["run_id"]})
        context.log.info(f"published {KIND} ({message_id}) for run {body['run_id']}")

    return run_failure_alert_sensor
