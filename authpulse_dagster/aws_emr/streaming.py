"""``EmrStreamingJobResource``: the streaming job as a long-running step on the platform cluster.

The same interface as the local ``StreamingJobResource`` (the ``streaming``
resource key, the ``start_streaming``/``stop_streaming``/``streaming_status``
jobs and ``authpulse stream``):

- **start** adds a step named ``authpulse-stream`` to ``AUTHPULSE_EMR_CLUSTER_ID``
  running ``python -m authpulse_dagster.live.stream_job`` (through the launcher),
  with its checkpoint on S3 (``AUTHPULSE_STREAM_CHECKPOINT_URI``, default
  ``$AUTHPULSE_WAREHOUSE_URI/_checkpoints/stream``) and ``ActionOnFailure=CONTINUE``.
  Idempotent: an active ``authpulse-stream`` step is reused. It **refuses** while
  the driver lease of that checkpoint is fresh: the launcher heartbeats it for as
  long as the driver lives, and a driver can outlive its step (a cancelled step
  only loses its ``spark-submit``), so a new step would run a second driver on
  the same checkpoint.
- **stop** asks the job to stop gracefully: it writes the step's stop marker
  (its S3 URI travels in the step's own arguments), on which the driver gets
  SIGTERM, finishes its batch in flight and ends, so the step ends ``COMPLETED``
  (see ``aws_emr/launcher.py`` for why not a bare cancel). A step still
  ``PENDING`` is simply cancelled. If the job outlives ``timeout``, or its step
  has ended while the lease says the driver still runs, the step is cancelled
  and its YARN application killed by tag (``yarn application -kill`` run as a step).
- **status** is the step's state plus the job's CloudWatch metrics
  (``MillisBehindLatest``, ``ProcessingLag``, ``RecordsProcessed``, ``RecordsPerSecond``,
  ``StateRows``, ``StateMemoryBytes`` in ``AUTHPULSE_METRICS_NAMESPACE``, dimension ``StreamName``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from authpulse_dagster.aws import aws_client
from authpulse_dagster.aws_emr.launcher import LEASE_ENV, STOP_MARKER_ENV, STOP_POLL_ENV
from authpulse_dagster.aws_emr.pipes_clients import ACTIVE_STEP_STATES, PIPES_PREFIX, end_step
from authpulse_dagster.aws_emr.submit import spark_submit_args, step_definition
from authpulse_dagster.errors import AuthPulseError, ConfigError
from authpulse_dagster.resources.streaming import StreamingJobResource, StreamStatus
from authpulse_dagster.settings import AwsSettings, Settings

STREAM_MODULE = "authpulse_dagster.live.stream_job"
STREAM_STEP_NAME = "authpulse-stream"
STOP_MARKER_PREFIX = f"{PIPES_PREFIX}stream-control"
# A lease not rewritten for this many heartbeat intervals (and at least this long) belongs to a driver that is gone.
LEASE_MISSED_HEARTBEATS = 3
LEASE_MIN_SECONDS = 5.0


class StreamStillRunning(AuthPulseError):
    """A streaming driver still runs on the checkpoint (its lease is fresh)."""

    exit_code = 1


def lease_uri(aws: AwsSettings) -> str:
    """Where the driver of ``aws.stream_checkpoint_uri`` keeps its lease (one per checkpoint)."""
    digest = hashlib.sha256(aws.stream_checkpoint_uri.encode()).hexdigest()[:16]
    return f"s3://{aws.pipes_bucket}/{STOP_MARKER_PREFIX}/leases/{digest}.json"


def heartbeat_seconds() -> float:
    return float(os.environ.get(STOP_POLL_ENV) or 10)


def fresh_lease(s: Settings) -> dict | None:
    """The lease of the checkpoint's driver if it was renewed recently, else None."""
    from botocore.exceptions import ClientError

    bucket, _, key = lease_uri(s.require_aws())[len("s3://"):].partition("/")
    try:
        lease = json.loads(aws_client("s3", s).get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    age = time.time() - float(lease.get("updated_at", 0))
    if age > max(LEASE_MISSED_HEARTBEATS * heartbeat_seconds(), LEASE_MIN_SECONDS):
        return None
    return {**lease, "age_seconds": round(age, 1)}
_STATE = {
    "PENDING": "running", "RUNNING": "running", "CANCEL_PENDING": "running",
    "COMPLETED": "stopped", "CANCELLED": "stopped", "INTERRUPTED": "stopped", "FAILED": "failed",
}
_METRICS = (("MillisBehindLatest", "Maximum"), ("ProcessingLag", "Maximum"), ("RecordsProcessed", "Sum"),
            ("RecordsPerSecond", "Average"), ("StateRows", "Maximum"), ("StateMemoryBytes", "Maximum"))


class EmrStreamingJobResource(StreamingJobResource):
    """The AWS implementation: a long-running EMR step (see module doc)."""

    poll_seconds: float = 10.0  # while waiting for a stop
    metrics_minutes: int = 15  # how far back status looks for the job's metrics

    def _target(self) -> tuple[Settings, str]:
        s = self.settings()
        cluster_id = s.require_aws().emr.cluster_id
        if not cluster_id:
            raise ConfigError(
                "AUTHPULSE_EMR_CLUSTER_ID is not set; the streaming job runs as a long-running step on the platform "
                "cluster (AUTHPULSE_EMR_TRANSIENT covers batch steps only)"
            )
        return s, cluster_id

    @staticmethod
    def _latest(emr: Any, cluster_id: str, states: tuple[str, ...] | None = None) -> dict | None:
        """The newest ``authpulse-stream`` step (ListSteps returns newest first)."""
        kwargs: dict = {"ClusterId": cluster_id}
        if states:
            kwargs["StepStates"] = list(states)
        for page in emr.get_paginator("list_steps").paginate(**kwargs):
            for step in page["Steps"]:
                if step["Name"] == STREAM_STEP_NAME:
                    return step
        return None

    def start(self) -> StreamStatus:
        s, cluster_id = self._target()
        aws = s.require_aws()
        emr = aws_client("emr", s)
        if self._latest(emr, cluster_id, ACTIVE_STEP_STATES) is None:
            lease = fresh_lease(s)
            if lease is not None:
                raise StreamStillRunning(
                    f"a streaming driver still runs on checkpoint {aws.stream_checkpoint_uri} (host {lease.get('host')}, "
                    f"lease renewed {lease['age_seconds']}s ago) although no {STREAM_STEP_NAME} step is active; "
                    "run `authpulse stream stop` to end it, then start again"
                )
            marker = f"s3://{aws.pipes_bucket}/{STOP_MARKER_PREFIX}/{uuid.uuid4().hex}/stop"
            args = spark_submit_args(
                s, STREAM_MODULE,
                ["--trigger-seconds", str(self.trigger_seconds), "--max-records", str(self.max_records_per_batch),
                 "--checkpoint", aws.stream_checkpoint_uri],
                app_name=STREAM_STEP_NAME,
                environ=None,
                # The launcher in the driver watches the marker and keeps the lease.
                driver_env={STOP_MARKER_ENV: marker, LEASE_ENV: lease_uri(aws)},
            )
            emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step_definition(STREAM_STEP_NAME, args, "CONTINUE")])
        return self.status()

    def stop(self, timeout: float = 180.0) -> StreamStatus:
        s, cluster_id = self._target()
        emr = aws_client("emr", s)
        step = self._latest(emr, cluster_id, ACTIVE_STEP_STATES)
        if step is None:
            # No step, but maybe a driver that outlived it (its step was cancelled): end that one.
            latest = self._latest(emr, cluster_id)
            if latest is not None and fresh_lease(s) is not None:
                self._kill(emr, s, cluster_id, latest["Id"], timeout)
            return self.status()
        step_id = step["Id"]
        state = step["Status"]["State"]
        if state == "PENDING":
            # Not started: no application exists yet, cancelling is enough.
            emr.cancel_steps(ClusterId=cluster_id, StepIds=[step_id], StepCancellationOption="SEND_INTERRUPT")
            return self.status()
        self._ask_to_stop(emr, s, cluster_id, step_id)
        deadline = time.monotonic() + timeout
        while state in ACTIVE_STEP_STATES and time.monotonic() < deadline:
            time.sleep(self.poll_seconds)
            state = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Status"]["State"]
        if state in ACTIVE_STEP_STATES:
            # Did not stop in time: cancelling the step alone would leave the driver running.
            self._kill(emr, s, cluster_id, step_id, timeout)
        return self.status()

    @staticmethod
    def _ask_to_stop(emr: Any, s: Settings, cluster_id: str, step_id: str) -> None:
        marker = stop_marker_of(emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"])
        if marker:
            bucket, _, key = marker[len("s3://"):].partition("/")
            aws_client("s3", s).put_object(Bucket=bucket, Key=key, Body=b"stop requested by authpulse\n")

    def _kill(self, emr: Any, s: Settings, cluster_id: str, step_id: str, timeout: float) -> None:
        """Cancel the step and kill its YARN application, then wait (up to ``timeout``) until the kill step has
        ended and the driver's lease is gone.

        Both, because either alone ends too early: the launcher releases the lease as the job's module
        returns, before the driver's process (the YARN application) has exited, and ``yarn application
        -kill`` returns only once the ResourceManager has killed the application, whether or not the
        driver could release its lease (a SIGKILLed one cannot; its lease then goes stale).
        """
        described = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]
        kill_steps = end_step(emr, cluster_id, described, step_id, lambda message: None)
        deadline = time.monotonic() + timeout

        def kill_running() -> bool:
            return any(
                emr.describe_step(ClusterId=cluster_id, StepId=kill)["Step"]["Status"]["State"] in ACTIVE_STEP_STATES
                for kill in kill_steps
            )

        while (kill_running() or fresh_lease(s) is not None) and time.monotonic() < deadline:
            time.sleep(self.poll_seconds)

    def status(self) -> StreamStatus:
        s, cluster_id = self._target()
        emr = aws_client("emr", s)
        step = self._latest(emr, cluster_id)
        metrics = self._metrics(s)
        if step is None:
            return StreamStatus(
                running=False, pid=None, state="not started", last_batch_id=None,
                last_progress=metrics.get("last_datapoint"),
                millis_behind_latest=_int(metrics.get("MillisBehindLatest")),
                processing_lag_ms=_int(metrics.get("ProcessingLag")),
                log="", detail={"cluster_id": cluster_id, "metrics": metrics},
            )
        state = step["Status"]["State"]
        log_uri = emr.describe_cluster(ClusterId=cluster_id)["Cluster"].get("LogUri") or ""
        log = f"{log_uri.rstrip('/')}/{cluster_id}/steps/{step['Id']}/" if log_uri else ""
        detail = {
            "cluster_id": cluster_id,
            "step_id": step["Id"],
            "step_state": state,
            "state_change_reason": (step["Status"].get("StateChangeReason") or {}).get("Message"),
            "failure_details": step["Status"].get("FailureDetails"),
            "metrics": metrics,
        }
        return StreamStatus(
            running=state in ACTIVE_STEP_STATES,
            pid=None,
            state=_STATE.get(state, state.lower()),
            last_batch_id=None,
            last_progress=metrics.get("last_datapoint"),
            millis_behind_latest=_int(metrics.get("MillisBehindLatest")),
            processing_lag_ms=_int(metrics.get("ProcessingLag")),
            log=log,
            detail=detail,
        )

    def _metrics(self, s: Settings) -> dict[str, Any]:
        """The newest value of each of the job's metrics within the last ``metrics_minutes``."""
        now = datetime.now(timezone.utc)
        queries = [
            {
                "Id": f"m{i}",
                "MetricStat": {
                    "Metric": {"Namespace": s.metrics_namespace, "MetricName": name,
                               "Dimensions": [{"Name": "StreamName", "Value": s.stream_name}]},
                    "Period": 60,
                    "Stat": stat,
                },
                "ReturnData": True,
            }
            for i, (name, stat) in enumerate(_METRICS)
        ]
        response = aws_client("cloudwatch", s).get_metric_data(
            MetricDataQueries=queries, StartTime=now - timedelta(minutes=self.metrics_minutes), EndTime=now + timedelta(minutes=1),
            ScanBy="TimestampDescending",
        )
        out: dict[str, Any] = {}
        newest = None
        by_id = {r["Id"]: r for r in response["MetricDataResults"]}
        for i, (name, _) in enumerate(_METRICS):
            r = by_id.get(f"m{i}", {})
            if r.get("Values"):
                latest = max(range(len(r["Values"])), key=lambda j: r["Timestamps"][j])
                out[name] = r["Values"][latest]
                newest = max(newest or r["Timestamps"][latest], r["Timestamps"][latest])
        if newest is not None:
            out["last_datapoint"] = newest.isoformat()
        return out


def stop_marker_of(step: dict) -> str | None:
    """The stop marker URI recorded in a stream step's arguments, if any."""
    prefix = f"spark.yarn.appMasterEnv.{STOP_MARKER_ENV}="
    for arg in step.get("Config", {}).get("Args", []):
        if arg.startswith(prefix):
            return arg[len(prefix):]
    return None


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
