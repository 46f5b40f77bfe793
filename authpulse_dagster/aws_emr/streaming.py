"""``EmrStreamingJobResource``: the streaming job as a long-running step on the platform cluster.

The same interface as the local ``StreamingJobResource`` (the ``streaming``
resource key, the ``start_streaming``/``stop_streaming``/``streaming_status``
jobs and ``authpulse stream``):

- **start** adds a step named ``authpulse-stream`` to ``AUTHPULSE_EMR_CLUSTER_ID``
  running ``python -m authpulse_dagster.live.stream_job`` (through the launcher),
  with its checkpoint on S3 (``AUTHPULSE_STREAM_CHECKPOINT_URI``, default
  ``$AUTHPULSE_WAREHOUSE_URI/_checkpoints/stream``) and ``ActionOnFailure=CONTINUE``.
  Idempotent: an active ``authpulse-stream`` step is reused.
- **stop** asks the job to stop gracefully: it writes the step's stop marker
  (its S3 URI travels in the step's own arguments), on which the driver gets
  SIGTERM, finishes its batch in flight and ends, so the step ends ``COMPLETED``
  (see ``aws_emr/launcher.py`` for why not a bare cancel). A step still
  ``PENDING`` is simply cancelled; one that outlives ``timeout`` is cancelled with
  ``SEND_INTERRUPT`` (EMR's SIGTERM to the step process).
- **status** is the step's state plus the job's CloudWatch metrics
  (``MillisBehindLatest``, ``ProcessingLag``, ``RecordsProcessed`` in
  ``AUTHPULSE_METRICS_NAMESPACE``, dimension ``StreamName``).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from authpulse_dagster.aws import aws_client
from authpulse_dagster.aws_emr.launcher import STOP_MARKER_ENV
from authpulse_dagster.aws_emr.pipes_clients import ACTIVE_STEP_STATES
from authpulse_dagster.aws_emr.submit import spark_submit_args, step_definition
from authpulse_dagster.errors import ConfigError
from authpulse_dagster.resources.streaming import StreamingJobResource, StreamStatus
from authpulse_dagster.settings import Settings

STREAM_MODULE = "authpulse_dagster.live.stream_job"
STREAM_STEP_NAME = "authpulse-stream"
STOP_MARKER_PREFIX = "authpulse/stream-control"
_STATE = {
    "PENDING": "running", "RUNNING": "running", "CANCEL_PENDING": "running",
    "COMPLETED": "stopped", "CANCELLED": "stopped", "INTERRUPTED": "stopped", "FAILED": "failed",
}
_METRICS = (("MillisBehindLatest", "Maximum"), ("ProcessingLag", "Maximum"), ("RecordsProcessed", "Sum"))


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
            marker = f"s3://{aws.pipes_bucket}/{STOP_MARKER_PREFIX}/{uuid.uuid4().hex}/stop"
            args = spark_submit_args(
                s, STREAM_MODULE,
                ["--trigger-seconds", str(self.trigger_seconds), "--max-records", str(self.max_records_per_batch),
                 "--checkpoint", aws.stream_checkpoint_uri],
                app_name=STREAM_STEP_NAME,
                environ=None,
            )
            # The stop marker goes to the driver's environment, where the launcher watches for it.
            at = args.index(aws.emr.launcher_uri)
            args[at:at] = ["--conf", f"spark.yarn.appMasterEnv.{STOP_MARKER_ENV}={marker}"]
            emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step_definition(STREAM_STEP_NAME, args, "CONTINUE")])
        return self.status()

    def stop(self, timeout: float = 180.0) -> StreamStatus:
        s, cluster_id = self._target()
        emr = aws_client("emr", s)
        step = self._latest(emr, cluster_id, ACTIVE_STEP_STATES)
        if step is None:
            return self.status()
        step_id = step["Id"]
        state = step["Status"]["State"]
        if state == "RUNNING":
            marker = stop_marker_of(emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"])
            if marker:
                bucket, _, key = marker[len("s3://"):].partition("/")
                aws_client("s3", s).put_object(Bucket=bucket, Key=key, Body=b"stop requested by authpulse\n")
            deadline = time.monotonic() + timeout
            while state in ACTIVE_STEP_STATES and time.monotonic() < deadline:
                time.sleep(self.poll_seconds)
                state = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Status"]["State"]
        if state in ACTIVE_STEP_STATES:
            # Never started (PENDING), or did not stop in time: EMR sends SIGTERM to the step's process.
            emr.cancel_steps(ClusterId=cluster_id, StepIds=[step_id], StepCancellationOption="SEND_INTERRUPT")
        return self.status()

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
