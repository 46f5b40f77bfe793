"""The streaming-health sensor against moto (Kinesis, SNS → SQS over HTTP), the real resource and real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from authpulse_dagster import notify
from authpulse_dagster.aws import aws_client
from authpulse_dagster.processes import pid_alive
from authpulse_dagster.resources.streaming import PID_FILE, STATUS_FILE, StreamingJobResource
from authpulse_dagster.sensors.config import OpsConfig
from authpulse_dagster.sensors.streaming_health import build_streaming_health_sensor

OPS = OpsConfig(stall_seconds=120)


def _status_file(settings, **status) -> None:
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    (settings.run_dir / STATUS_FILE).write_text(json.dumps(status))


def _tick(sensor, instance, resource, cursor):
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"streaming": resource})
    result = sensor.evaluate_tick(ctx)
    return result.cursor, [m.body for m in notify.receive(ctx.resources.streaming.settings(), wait_seconds=1)]


@pytest.fixture
def sleeper(aws_env):
    """A real process standing where the job's pid file points (alive, but doing nothing)."""
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    aws_env.run_dir.mkdir(parents=True, exist_ok=True)
    (aws_env.run_dir / PID_FILE).write_text(str(proc.pid))
    yield proc
    proc.kill()
    proc.wait()


def test_failed_job_alerts_once_and_recovery_is_reported(aws_env, aws_resources, instance):
    settings = aws_env
    resource = StreamingJobResource(home=str(settings.home))
    sensor = build_streaming_health_sensor(settings, OPS)

    cursor, sent = _tick(sensor, instance, resource, None)
    assert sent == []  # never started: nothing is expected of it

    # It said "running" and its process is gone: failed.
    _status_file(settings, state="running", pid=999_999, batch_id=4, finished_at=datetime.now(timezone.utc).isoformat())
    cursor, sent = _tick(sensor, instance, resource, cursor)
    assert [(m["kind"], m["problem"]) for m in sent] == [("stream_unhealthy", "failed")]
    assert sent[0]["action"].startswith("none (set AUTHPULSE_STREAM_RESTART=on")
    assert sent[0]["last_batch_id"] == 4 and sent[0]["stream"] == settings.stream_name

    cursor, sent = _tick(sensor, instance, resource, cursor)
    assert sent == []  # the same problem is not reported twice

    # Stopped on purpose is a different problem: reported once too.
    _status_file(settings, state="stopped", pid=999_999, batch_id=4, stopped_at="2024-01-01T00:00:00+00:00")
    cursor, sent = _tick(sensor, instance, resource, cursor)
    assert [(m["kind"], m["problem"], m["action"]) for m in sent] == [("stream_unhealthy", "stopped", "none")]


def test_stall_needs_waiting_records_and_ends_with_progress(aws_env, aws_resources, instance, sleeper):
    settings = aws_env
    resource = StreamingJobResource(home=str(settings.home))
    sensor = build_streaming_health_sensor(settings, OPS)
    quiet_since = datetime.now(timezone.utc) - timedelta(minutes=10)
    _status_file(settings, state="running", pid=sleeper.pid, batch_id=9, finished_at=quiet_since.isoformat())

    cursor, sent = _tick(sensor, instance, resource, None)
    assert sent == []  # no batch for 10 minutes, but nothing arrived either: idle, not stalled

    aws_client("kinesis", settings).put_record(StreamName=settings.stream_name, Data=b"{}", PartitionKey="U1")
    cursor, sent = _tick(sensor, instance, resource, cursor)
    assert [(m["kind"], m["problem"]) for m in sent] == [("stream_unhealthy", "stalled")]
    assert sent[0]["seconds_without_progress"] >= 600 and sent[0]["pid"] == sleeper.pid

    _status_file(settings, state="running", pid=sleeper.pid, batch_id=10, finished_at=datetime.now(timezone.utc).isoformat())
    cursor, sent = _tick(sensor, instance, resource, cursor)
    assert [(m["kind"], m["previous_problem"]) for m in sent] == [("stream_recovered", "stalled")]
    assert json.loads(cursor)["problem"] is None


def test_failed_job_is_restarted_through_the_resource_when_configured(aws_env, aws_resources, instance):
    settings = aws_env
    resource = StreamingJobResource(home=str(settings.home), trigger_seconds=5)
    sensor = build_streaming_health_sensor(settings, OpsConfig(stream_restart=True))
    _status_file(settings, state="failed", pid=999_999, error="boom: the JVM died")
    try:
        cursor, sent = _tick(sensor, instance, resource, None)
        status = resource.status()
        assert status.running and status.pid and pid_alive(status.pid)
        assert [(m["problem"], m["error"]) for m in sent] == [("failed", "boom: the JVM died")]
        assert sent[0]["action"] == f"restarted (pid {status.pid}, state running)"
        assert len(json.loads(cursor)["restarts"]) == 1
        # The restarted process is the streaming job itself.
        cmdline = open(f"/proc/{status.pid}/cmdline", "rb").read().split(b"\0")
        assert b"authpulse_dagster.live.stream_job" in cmdline
    finally:
        pid = resource.status().pid
        if pid:
            os.killpg(pid, signal.SIGKILL)  # the job and its Spark JVM; it has nothing to finish here
            deadline = time.monotonic() + 10
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
