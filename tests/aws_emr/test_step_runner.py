"""EmrStepRunner: asset steps run as EMR steps through Dagster Pipes (existing and transient clusters).

Against an in-process moto server whose EMR steps are executed by
``tests/fixtures/emr_cluster.FakeEmrCluster`` (moto itself never runs a step):
the step's real command line is run — the launcher downloaded from S3, the
real ``authpulse_dagster.steps`` entry point, Glue + S3 Iceberg tables on
moto — and its Pipes messages travel through the moto S3 bucket.
"""

from __future__ import annotations

import boto3
import dagster as dg
import pytest

from authpulse_dagster.assets.bronze import build_bronze_assets
from authpulse_dagster.aws_emr.step_runner import EmrStepRunner
from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.partitions import daily_partitions
from authpulse_dagster.settings import Settings
from tests.fixtures.emr_cluster import REGION, AwsStack, FakeEmrCluster, aws_stack, emr_cluster  # noqa: F401

DAY = "2024-01-02"
LINES = [f"{86400 + i},U{i % 3},C{i % 5}" for i in range(12)] + ["not,a,valid,line"]


def land(cluster: FakeEmrCluster) -> None:
    """Put the input in the raw zone on S3, where bronze reads it in AWS mode."""
    from authpulse_dagster.aws import aws_client
    from tests.fixtures.emr_cluster import BUCKETS

    body = ("\n".join(LINES) + "\n").encode()
    aws_client("s3", Settings.from_env()).put_object(Bucket=BUCKETS["raw"], Key="raw/lanl2014/auth.txt", Body=body)


INSTANCE: list = []


def materialize_bronze(**runner):
    settings = Settings.from_env()
    _, raw_events = build_bronze_assets(daily_partitions(settings))
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
    [mat] = result.asset_materializations_for_node("raw_events")
    meta = mat.metadata
    assert meta["dagster/row_count"].value == len(LINES)
    assert meta["table"].value == "authpulse.raw_events"
    assert meta["AWS EMR Step ID"].value == ran.step_id
    assert meta["AWS EMR Cluster ID"].value == aws_stack.cluster_id
    table = load_catalog(Settings.from_env()).load_table("authpulse.raw_events")
    assert table.location().startswith("s3://authpulse-warehouse-test/warehouse/")
    assert meta["snapshots"].value == {DAY: table.current_snapshot().snapshot_id}
    assert table.scan().to_arrow().num_rows == len(LINES)
    assert table.current_snapshot().summary["authpulse.dagster_run_id"] == run_id


def test_a_failed_step_fails_the_materialization_with_the_step_error(
    emr_cluster: FakeEmrCluster, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    land(emr_cluster)
    # A warehouse bucket that does not exist: the step itself fails writing the table.
    monkeypatch.setenv("AUTHPULSE_WAREHOUSE_URI", "s3://authpulse-no-such-bucket/warehouse")
    result = materialize_bronze()

    assert not result.success
    assert result.asset_materializations_for_node("raw_events") == []
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
    monkeypatch.setenv("AUTHPULSE_EMR_TRANSIENT", "1")
    monkeypatch.setenv("AUTHPULSE_EMR_SERVICE_ROLE", "EMR_DefaultRole_V2")
    monkeypatch.setenv("AUTHPULSE_EMR_INSTANCE_PROFILE", "EMR_EC2_DefaultRole")
    monkeypatch.setenv("AUTHPULSE_EMR_INSTANCE_COUNT", "2")
    monkeypatch.setenv("AUTHPULSE_EMR_SUBNET_ID", "subnet-0123456789abcdef0")


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
    assert cluster["Ec2InstanceAttributes"]["Ec2SubnetId"] == "subnet-0123456789abcdef0"
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

    [mat] = result.asset_materializations_for_node("raw_events")
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
