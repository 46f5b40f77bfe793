"""EmrStreamingJobResource: the streaming job as a long-running EMR step (start, graceful stop, status).

In-process moto with ``FakeEmrCluster`` running the steps; the stream step's
module is replaced by ``tests/aws_emr/sigterm_probe.py`` (the real job needs
Spark and Kinesis), everything else — the step's arguments, the launcher
downloaded from S3, its stop-marker watcher, the signal — is the real path.
"""

from __future__ import annotations

import time
from pathlib import Path

import boto3
import pytest

from authpulse_dagster.aws_emr.streaming import (
    STREAM_STEP_NAME,
    EmrStreamingJobResource,
    StreamStillRunning,
    fresh_lease,
    lease_uri,
    stop_marker_of,
)
from authpulse_dagster.aws_emr.submit import KILL_STEP_PREFIX, yarn_tag_of
from authpulse_dagster.definitions import build_definitions
from authpulse_dagster.errors import ConfigError
from authpulse_dagster.live import metrics
from authpulse_dagster.settings import Settings
from tests.fixtures.emr_cluster import REGION, AwsStack, FakeEmrCluster, aws_stack, emr_cluster  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
PROBE = "tests.aws_emr.sigterm_probe"
STUBBORN = "tests.aws_emr.stubborn_probe"
SLOW_EXIT = "tests.aws_emr.slow_exit_probe"


@pytest.fixture
def stream_cluster(emr_cluster: FakeEmrCluster, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> FakeEmrCluster:
    emr_cluster.module_substitutes["authpulse_dagster.live.stream_job"] = PROBE
    emr_cluster.node_env["PYTHONPATH"] = str(REPO)  # stands in for the spark.archives environment
    monkeypatch.setenv("AUTHPULSE_STOP_POLL_SECONDS", "0.2")  # forwarded to the step like every AUTHPULSE_* setting
    return emr_cluster


def stream_steps(cluster_id: str) -> list[dict]:
    steps = boto3.client("emr", region_name=REGION).list_steps(ClusterId=cluster_id)["Steps"]
    return [s for s in steps if s["Name"] == STREAM_STEP_NAME]


def wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_start_adds_one_long_running_step_and_stop_ends_it_gracefully(stream_cluster: FakeEmrCluster, aws_stack: AwsStack) -> None:
    resource = EmrStreamingJobResource(trigger_seconds=5, max_records_per_batch=1000, poll_seconds=0.2)
    status = resource.start()
    assert status.running and status.state == "running"
    [step] = stream_steps(aws_stack.cluster_id)
    assert status.detail["step_id"] == step["Id"]
    assert step["ActionOnFailure"] == "CONTINUE"
    args = step["Config"]["Args"]
    assert args[:5] == ["spark-submit", "--master", "yarn", "--deploy-mode", "cluster"]
    at = args.index("s3://authpulse-artifacts-test/emr/authpulse_emr_main.py")
    assert args[at + 1:] == [
        "authpulse_dagster.live.stream_job", "--trigger-seconds", "5.0", "--max-records", "1000",
        "--checkpoint", "s3://authpulse-warehouse-test/warehouse/_checkpoints/stream",
    ]
    marker = stop_marker_of(step)
    assert marker and marker.startswith("s3://authpulse-pipes-test/pipes/stream-control/")

    # Idempotent: a second start finds the active step.
    assert resource.start().detail["step_id"] == step["Id"]
    assert len(stream_steps(aws_stack.cluster_id)) == 1

    wait_for(lambda: stream_cluster.executed and "probe: running" in _stdout_so_far(stream_cluster))
    stopped = resource.stop(timeout=60)
    assert stopped.state == "stopped" and not stopped.running
    assert stopped.detail["step_state"] == "COMPLETED"
    [ran] = stream_cluster.executed
    assert ran.returncode == 0 and "probe: stopped gracefully" in ran.stdout, ran.stderr[-2000:]
    assert "stop marker" in ran.stderr
    assert stream_cluster.cancel_requests == []  # graceful: no cancel needed
    bucket, _, key = marker[len("s3://"):].partition("/")
    boto3.client("s3", region_name=REGION).head_object(Bucket=bucket, Key=key)


def _stdout_so_far(cluster: FakeEmrCluster) -> str:
    # The probe's stdout is only collected when it ends; while it runs, its step being RUNNING
    # with a live process is what "running" means.
    proc = cluster._procs.get(cluster.executed[-1].step_id)
    return "probe: running" if proc is not None and proc.poll() is None else ""


def test_stop_cancels_a_step_that_never_started(stream_cluster: FakeEmrCluster, aws_stack: AwsStack) -> None:
    emr = boto3.client("emr", region_name=REGION)
    # Something else holds the cluster (one step at a time), so the stream step waits PENDING.
    blocker = emr.add_job_flow_steps(JobFlowId=aws_stack.cluster_id, Steps=[{
        "Name": "other-work", "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": [
            "spark-submit", "--deploy-mode", "cluster", "s3://authpulse-artifacts-test/emr/authpulse_emr_main.py", PROBE]},
    }])["StepIds"][0]
    resource = EmrStreamingJobResource(poll_seconds=0.2)
    status = resource.start()
    assert status.detail["step_state"] == "PENDING" and status.state == "running"

    stopped = resource.stop(timeout=5)
    assert stopped.state == "stopped" and stopped.detail["step_state"] == "CANCELLED"
    assert stream_cluster.cancel_requests == [
        {"ClusterId": aws_stack.cluster_id, "StepIds": [status.detail["step_id"]], "StepCancellationOption": "SEND_INTERRUPT"}
    ]
    emr.cancel_steps(ClusterId=aws_stack.cluster_id, StepIds=[blocker], StepCancellationOption="TERMINATE_PROCESS")


def test_status_reads_the_step_and_the_jobs_cloudwatch_metrics(stream_cluster: FakeEmrCluster, aws_stack: AwsStack) -> None:
    resource = EmrStreamingJobResource()
    settings = Settings.from_env()
    assert resource.status().state == "not started"
    metrics.publish(settings, settings.stream_name, metrics.BatchMetrics(500, 3, 1, 2.5, 1234, 5678, 200.0, 480, 65_536))
    status = resource.status()
    assert status.state == "not started"
    assert status.millis_behind_latest == 1234 and status.processing_lag_ms == 5678
    assert status.detail["metrics"]["RecordsProcessed"] == 500
    assert status.detail["metrics"]["RecordsPerSecond"] == 200.0
    assert status.detail["metrics"]["StateRows"] == 480 and status.detail["metrics"]["StateMemoryBytes"] == 65_536
    assert status.last_progress is not None


def test_dagster_streaming_jobs_drive_the_emr_step(stream_cluster: FakeEmrCluster, aws_stack: AwsStack) -> None:
    defs = build_definitions(Settings.from_env())
    result = defs.resolve_job_def("start_streaming").execute_in_process()
    assert result.success
    [obs] = [e.asset_observation_data.asset_observation for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    assert obs.metadata["streaming_state"].value == "running"
    assert len(stream_steps(aws_stack.cluster_id)) == 1
    EmrStreamingJobResource(poll_seconds=0.2).stop(timeout=60)
    assert stream_steps(aws_stack.cluster_id)[0]["Status"]["State"] == "COMPLETED"


def test_streaming_needs_the_platform_cluster(aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_settings_aws import TRANSIENT

    monkeypatch.delenv("AUTHPULSE_EMR_CLUSTER_ID")
    for name, value in TRANSIENT.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="AUTHPULSE_EMR_CLUSTER_ID is not set; the streaming job"):
        EmrStreamingJobResource().start()


# --- a driver outlives its step (YARN cluster mode) ----------------------------------------------


@pytest.fixture
def yarn(stream_cluster: FakeEmrCluster):
    from tests.aws_emr.yarn import YarnClusterMode

    return YarnClusterMode(stream_cluster)


def _running_stream_step(cluster: FakeEmrCluster, aws_stack: AwsStack) -> dict:
    [step] = stream_steps(aws_stack.cluster_id)
    wait_for(lambda: any(r.step_id == step["Id"] for r in cluster.executed) and fresh_lease(Settings.from_env()))
    return step


def test_stop_kills_the_yarn_application_of_a_driver_that_does_not_stop(
    stream_cluster: FakeEmrCluster, aws_stack: AwsStack, yarn
) -> None:
    stream_cluster.module_substitutes["authpulse_dagster.live.stream_job"] = STUBBORN
    resource = EmrStreamingJobResource(poll_seconds=0.2)
    resource.start()
    step = _running_stream_step(stream_cluster, aws_stack)
    tag = yarn_tag_of(step["Config"]["Args"])
    assert tag and tag.startswith("authpulse-")

    stopped = resource.stop(timeout=3)

    # The step was cancelled; in cluster mode that alone leaves the driver running...
    assert {"ClusterId": aws_stack.cluster_id, "StepIds": [step["Id"]], "StepCancellationOption": "SEND_INTERRUPT"} in stream_cluster.cancel_requests
    # ...so its application was killed by tag, through a step that runs yarn application -kill.
    [kill] = yarn.kill_steps
    assert kill.name == f"{KILL_STEP_PREFIX}{tag}" and kill.args[:2] == ["bash", "-c"] and kill.args[-1] == tag
    assert yarn.killed == [(tag, step["Id"])]
    assert not yarn.driver_alive(step["Id"])
    assert not stopped.running
    # Killed, the driver could not release its lease; it goes stale once heartbeats stop.
    wait_for(lambda: fresh_lease(Settings.from_env()) is None, timeout=15)


def test_start_refuses_while_a_driver_still_runs_on_the_checkpoint(
    stream_cluster: FakeEmrCluster, aws_stack: AwsStack, yarn
) -> None:
    emr = boto3.client("emr", region_name=REGION)
    # A driver whose process lingers after it released its lease (shutdown hooks): stop() must wait for the kill.
    stream_cluster.module_substitutes["authpulse_dagster.live.stream_job"] = SLOW_EXIT
    resource = EmrStreamingJobResource(poll_seconds=0.2)
    resource.start()
    step = _running_stream_step(stream_cluster, aws_stack)
    # Someone cancels the step (the console, a CLI call): spark-submit goes, the driver stays.
    emr.cancel_steps(ClusterId=aws_stack.cluster_id, StepIds=[step["Id"]], StepCancellationOption="SEND_INTERRUPT")
    assert stream_steps(aws_stack.cluster_id)[0]["Status"]["State"] == "CANCELLED"
    assert yarn.driver_alive(step["Id"])

    with pytest.raises(StreamStillRunning, match="a streaming driver still runs on checkpoint s3://authpulse-warehouse-test/"):
        resource.start()
    assert len(stream_steps(aws_stack.cluster_id)) == 1  # no second driver on the same checkpoint

    # stop() ends the orphaned driver (its step has ended already); then a start is allowed again.
    resource.stop(timeout=20)
    assert not yarn.driver_alive(step["Id"])
    assert fresh_lease(Settings.from_env()) is None
    resource.start()
    assert len(stream_steps(aws_stack.cluster_id)) == 2


def test_the_lease_lives_under_the_pipes_prefix_and_names_the_checkpoint(aws_stack: AwsStack) -> None:
    aws = Settings.from_env().require_aws()
    uri = lease_uri(aws)
    assert uri.startswith("s3://authpulse-pipes-test/pipes/stream-control/leases/") and uri.endswith(".json")
    assert lease_uri(aws) == uri  # one lease per checkpoint, the same from every process
