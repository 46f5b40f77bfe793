"""EmrStepRunner: asset steps run as EMR steps through Dagster Pipes (existing and transient clusters).

Against an in-process moto server whose EMR steps are executed by
``tests/fixtures/emr_cluster.FakeEmrCluster`` (moto itself never runs a step):
the step's real command line is run — the launcher downloaded from S3 and the
entry point's Pipes path (``tests/aws_emr/pipes_step_probe.py`` stands in for
the Spark work, which the fake cluster cannot run) — and its Pipes messages
travel through the moto S3 bucket.
"""

from __future__ import annotations

import boto3
import dagster as dg
import pytest

from authpulse_dagster.assets.pipeline import build_pipeline_assets
from authpulse_dagster.aws_emr.step_runner import EmrStepRunner
from authpulse_dagster.partitions import daily_partitions
from authpulse_dagster.resources.step_runner import STEP_MODULE
from authpulse_dagster.settings import Settings
from tests.fixtures.emr_cluster import REGION, AwsStack, FakeEmrCluster, aws_stack, emr_cluster  # noqa: F401
from tests.test_settings_aws import TRANSIENT

PROBE = "tests.aws_emr.pipes_step_probe"

DAY = "2024-01-02"
LINES = [f"{86400 + i},U{i % 3},C{i % 5}" for i in range(12)] + ["not,a,valid,line"]


def land(cluster: FakeEmrCluster) -> None:
    """Put the input in the raw zone on S3, where bronze reads it in AWS mode (and the probe counts it)."""
    from authpulse_dagster.aws import aws_client
    from tests.fixtures.emr_cluster import BUCKETS

    body = ("\n".join(LINES) + "\n").encode()
    aws_client("s3", Settings.from_env()).put_object(Bucket=BUCKETS["raw"], Key="raw/lanl2014/auth.txt", Body=body)
    cluster.module_substitutes[STEP_MODULE] = PROBE
    cluster.node_env["PYTHONPATH"] = str(REPO)  # stands in for the spark.archives environment


INSTANCE: list = []
REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def materialize_bronze(**runner):
    settings = Settings.from_env()
    [raw_events] = [
        a for a in build_pipeline_assets(daily_partitions(settings))
        if isinstance(a, dg.AssetsDefinition) and dg.AssetKey("raw_events") in a.keys and a.is_executable
    ]
    INSTANCE[:] = [dg.DagsterInstance.ephemeral()]
    return dg.materialize(
        [raw_events],
        partition_key=DAY,
        instance=INSTANCE[0],
        resources={"step_runner": EmrStepRunner(poll_seconds=0.2, message_poll_seconds=0.5, **runner)},
        raise_on_error=False,
    )


def failure_message(result) -> str:
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failures, "expected a failed step"
    return failures[0].step_failure_data.error.message


def test_bronze_runs_as_a_step_on_the_existing_cluster(emr_cluster: FakeEmrCluster, aws_stack: AwsStack) -> None:
    land(emr_cluster)
    result = materialize_bronze()
    assert result.success, failure_message(result)

    # One step, on the platform cluster, running the local runner's entry point through the launcher.
    [ran] = emr_cluster.executed
    assert ran.cluster_id == aws_stack.cluster_id and ran.returncode == 0, ran.stderr[-2000:]
    step = boto3.client("emr", region_name=REGION).describe_step(ClusterId=aws_stack.cluster_id, StepId=ran.step_id)["Step"]
    assert step["ActionOnFailure"] == "CONTINUE"
    assert step["Config"]["Jar"] == "command-runner.jar"
    args = step["Config"]["Args"]
    assert args[:5] == ["spark-submit", "--master", "yarn", "--deploy-mode", "cluster"]
    assert "spark.archives=s3://authpulse-artifacts-test/emr/authpulse-emr.tar.gz#environment" in args
    launcher_at = args.index("s3://authpulse-artifacts-test/emr/authpulse_emr_main.py")
    run_id = result.run_id
    assert args[launcher_at + 1:launcher_at + 9] == [
        "authpulse_dagster.steps", "bronze", "--start", DAY, "--end", DAY, "--run-id", run_id,
    ]
    assert args[launcher_at + 9] == "--dagster-pipes-context" and args[launcher_at + 11] == "--dagster-pipes-messages"
    # Settings travel in the step's environment; credentials and local paths do not.
    assert ran.env["AUTHPULSE_ENV"] == "aws"
    assert ran.env["AUTHPULSE_WAREHOUSE_URI"] == aws_stack.env["AUTHPULSE_WAREHOUSE_URI"]
    assert "spark.yarn.appMasterEnv.AUTHPULSE_SPARK_MASTER=yarn" in args
    assert not any("AWS_SECRET_ACCESS_KEY" in a or "AUTHPULSE_HOME" in a for a in args)

    # What the step reported over Pipes is the materialization, as in local mode.
    [mat] = result.asset_materializations_for_node("bronze")
    meta = mat.metadata
    assert meta["dagster/row_count"].value == len(LINES)
    assert meta["table"].value == "authpulse.raw_events"
    assert meta["AWS EMR Step ID"].value == ran.step_id
    assert meta["AWS EMR Cluster ID"].value == aws_stack.cluster_id
    assert meta["run_id"].value == run_id
    # Pipes context and messages live under the pipes/ prefix (the stack expires and scopes it).
    keys = [o["Key"] for o in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=aws_stack.buckets["pipes"]).get("Contents", [])]
    pipes_keys = [k for k in keys if not k.startswith(("emr/", "emr-logs/"))]
    assert pipes_keys and all(k.startswith(("pipes/context/", "pipes/messages/")) for k in pipes_keys), pipes_keys


def test_a_failed_step_fails_the_materialization_with_the_step_error(
    emr_cluster: FakeEmrCluster, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    land(emr_cluster)
    # A warehouse bucket that does not exist: the step itself fails writing the table.
    monkeypatch.setenv("AUTHPULSE_WAREHOUSE_URI", "s3://authpulse-no-such-bucket/warehouse")
    result = materialize_bronze()

    assert not result.success
    assert result.asset_materializations_for_node("bronze") == []
    [ran] = emr_cluster.executed
    assert ran.returncode != 0
    step = boto3.client("emr", region_name=REGION).describe_step(ClusterId=aws_stack.cluster_id, StepId=ran.step_id)["Step"]
    assert step["Status"]["State"] == "FAILED"
    message = failure_message(result)
    assert f"EMR step {ran.step_id}" in message and "ended FAILED" in message
    assert "authpulse-no-such-bucket" in message  # the step's own error, as EMR reported it
    # The exception the step raised also reached the run through Pipes.
    events = [r.dagster_event for r in INSTANCE[0].all_logs(result.run_id) if r.dagster_event]
    closed = [e for e in events if "pipes closed with exception" in (e.message or "")]
    assert closed and "authpulse-no-such-bucket" in closed[0].engine_event_data.error.message


def _transient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTHPULSE_EMR_CLUSTER_ID")
    for name, value in TRANSIENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AUTHPULSE_EMR_INSTANCE_COUNT", "2")


def test_transient_cluster_through_pipes_emr_client(
    emr_cluster: FakeEmrCluster, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    _transient(monkeypatch)
    land(emr_cluster)
    result = materialize_bronze()
    assert result.success, failure_message(result)

    [ran] = emr_cluster.executed
    assert ran.cluster_id != aws_stack.cluster_id  # a new cluster, started for this step
    emr = boto3.client("emr", region_name=REGION)
    cluster = emr.describe_cluster(ClusterId=ran.cluster_id)["Cluster"]
    assert cluster["Status"]["State"] == "TERMINATED"
    assert cluster["ReleaseLabel"] == "emr-spark-8.1.0"
    assert cluster["ServiceRole"] == "EMR_DefaultRole_V2"
    assert cluster["Ec2InstanceAttributes"]["IamInstanceProfile"] == "EMR_EC2_DefaultRole"
    attrs = cluster["Ec2InstanceAttributes"]
    assert attrs["Ec2SubnetId"] == "subnet-0123456789abcdef0"
    assert (attrs["EmrManagedMasterSecurityGroup"], attrs["EmrManagedSlaveSecurityGroup"], attrs["ServiceAccessSecurityGroup"]) == (
        "sg-0123456789abcdef0", "sg-0123456789abcdef1", "sg-0123456789abcdef2")
    assert cluster["SecurityConfiguration"] == "AuthPulse-SecurityConfiguration-ABC"
    assert {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"} in cluster["Tags"]
    assert {"Classification": "iceberg-defaults", "Properties": {"iceberg.enabled": "true"}} in cluster["Configurations"]
    assert [a["Name"] for a in cluster["Applications"]] == ["Spark"]
    assert cluster["AutoTerminate"] is True
    assert {"Key": "dagster/run-id", "Value": result.run_id} in cluster["Tags"]
    groups = emr.list_instance_groups(ClusterId=ran.cluster_id)["InstanceGroups"]
    assert sorted((g["InstanceGroupType"], g["RequestedInstanceCount"]) for g in groups) == [("CORE", 1), ("MASTER", 1)]
    [step] = emr.list_steps(ClusterId=ran.cluster_id)["Steps"]
    assert step["ActionOnFailure"] == "TERMINATE_CLUSTER"
    # dagster-aws injected the Pipes parameters through the cluster's configuration, not the arguments.
    assert "--dagster-pipes-context" not in step["Config"]["Args"]
    assert "DAGSTER_PIPES_CONTEXT" in ran.env

    [mat] = result.asset_materializations_for_node("bronze")
    assert mat.metadata["dagster/row_count"].value == len(LINES)
    assert mat.metadata["AWS EMR Cluster ID"].value == ran.cluster_id


def test_transient_cluster_with_a_failed_step_fails_the_materialization(
    emr_cluster: FakeEmrCluster, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    _transient(monkeypatch)
    land(emr_cluster)
    monkeypatch.setenv("AUTHPULSE_WAREHOUSE_URI", "s3://authpulse-no-such-bucket/warehouse")
    result = materialize_bronze()

    assert not result.success
    [ran] = emr_cluster.executed
    cluster = boto3.client("emr", region_name=REGION).describe_cluster(ClusterId=ran.cluster_id)["Cluster"]
    assert cluster["Status"]["State"] == "TERMINATED_WITH_ERRORS"
    message = failure_message(result)
    assert f"EMR step {ran.step_id}" in message and "ended FAILED" in message and "authpulse-no-such-bucket" in message


# --- the wait fails: the work must not run on unwatched ---------------------------------------------


class ThrottledAfterStart:
    """The project's EMR client, whose ``describe_step``/``describe_cluster`` start failing once the
    step runs (a throttled or expired-credentials waiter), with the error EMR's API returns."""

    def __init__(self, client, operation: str, ready=lambda: True):
        self._client = client
        self._operation = operation
        self._ready = ready  # fail only once the work is under way
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def _call(self, method: str, operation: str, kwargs: dict):
        from botocore.exceptions import ClientError

        if method == self._operation:
            self.calls += 1
            if self.calls > 1 and self._ready():
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation)
        return getattr(self._client, method)(**kwargs)

    def describe_step(self, **kwargs):
        return self._call("describe_step", "DescribeStep", kwargs)

    def describe_cluster(self, **kwargs):
        return self._call("describe_cluster", "DescribeCluster", kwargs)


def test_a_failing_waiter_cancels_the_step_and_kills_its_yarn_application(
    emr_cluster: FakeEmrCluster, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from authpulse_dagster.aws_emr import step_runner as module
    from authpulse_dagster.aws_emr.submit import KILL_STEP_PREFIX, yarn_tag_of
    from tests.aws_emr.yarn import YarnClusterMode

    land(emr_cluster)
    emr_cluster.module_substitutes[STEP_MODULE] = "tests.aws_emr.stubborn_probe"  # a driver that runs on
    yarn = YarnClusterMode(emr_cluster)
    real = module.aws_client
    clients: list = []

    def aws_client(service, settings=None, **kwargs):
        client = real(service, settings, **kwargs)
        if service == "emr":
            clients.append(ThrottledAfterStart(client, "describe_step", ready=lambda: any(yarn.driver_alive(r.step_id) for r in emr_cluster.executed)))
            return clients[-1]
        return client

    monkeypatch.setattr(module, "aws_client", aws_client)
    result = materialize_bronze()

    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0].step_failure_data.error
    assert "ThrottlingException" in failure.cause.message
    [ran] = [r for r in emr_cluster.executed if r.args[0] == "spark-submit"]
    tag = yarn_tag_of(ran.args)
    assert {"ClusterId": aws_stack.cluster_id, "StepIds": [ran.step_id], "StepCancellationOption": "SEND_INTERRUPT"} in emr_cluster.cancel_requests
    [kill] = yarn.kill_steps
    assert kill.name == f"{KILL_STEP_PREFIX}{tag}"
    assert yarn.killed == [(tag, ran.step_id)] and not yarn.driver_alive(ran.step_id)


def test_a_failing_waiter_terminates_a_transient_cluster(emr_cluster: FakeEmrCluster, aws_stack: AwsStack) -> None:
    from authpulse_dagster.aws_emr.pipes_clients import TransientPipesEMRClient

    emr = boto3.client("emr", region_name=REGION)
    cluster_id = emr.run_job_flow(
        Name="transient", ReleaseLabel="emr-spark-8.1.0", Applications=[{"Name": "Spark"}],
        Instances={"MasterInstanceType": "r6i.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole_V2",
    )["JobFlowId"]
    client = TransientPipesEMRClient(
        client=ThrottledAfterStart(emr, "describe_cluster"), message_reader=None, context_injector=None,
        poll_seconds=0.01, sleep=lambda s: None,
    )
    context = dg.build_op_context()
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="ThrottlingException"):
        client._wait_for_completion(context, {"JobFlowId": cluster_id})
    assert emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"] in ("TERMINATING", "TERMINATED")
