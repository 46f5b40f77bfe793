"""AUTHPULSE_ENV=aws: every AWS setting is read and checked when Settings load; a problem is one line naming the variable."""

from __future__ import annotations

import pytest

from authpulse_dagster.definitions import build_definitions
from authpulse_dagster.errors import ConfigError
from authpulse_dagster.settings import Settings

VALID = {
    "AUTHPULSE_ENV": "aws",
    "AWS_REGION": "eu-west-1",
    "AUTHPULSE_WAREHOUSE_URI": "s3://ap-warehouse/iceberg/",
    "AUTHPULSE_RAW_URI": "s3://ap-raw/raw",
    "AUTHPULSE_STREAM": "authpulse-events",
    "AUTHPULSE_ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:authpulse-alerts",
    "AUTHPULSE_PIPES_BUCKET": "ap-pipes-123456789012",
    "AUTHPULSE_EMR_ARTIFACTS_URI": "s3://ap-artifacts/emr",
    "AUTHPULSE_EMR_CLUSTER_ID": "j-2AXXXXXXGAPLF",
    "AUTHPULSE_ATHENA_WORKGROUP": "authpulse",
    "AUTHPULSE_ATHENA_OUTPUT": "s3://ap-athena/results",
}
# What a transient cluster needs besides the common settings (the stack outputs each of them).
TRANSIENT = {
    "AUTHPULSE_EMR_TRANSIENT": "1",
    "AUTHPULSE_EMR_SERVICE_ROLE": "EMR_DefaultRole_V2",
    "AUTHPULSE_EMR_INSTANCE_PROFILE": "EMR_EC2_DefaultRole",
    "AUTHPULSE_EMR_SUBNET_ID": "subnet-0123456789abcdef0",
    "AUTHPULSE_EMR_SECURITY_CONFIGURATION": "AuthPulse-SecurityConfiguration-ABC",
    "AUTHPULSE_EMR_PRIMARY_SG": "sg-0123456789abcdef0",
    "AUTHPULSE_EMR_CORE_SG": "sg-0123456789abcdef1",
    "AUTHPULSE_EMR_SERVICE_ACCESS_SG": "sg-0123456789abcdef2",
}
REQUIRED = [
    "AWS_REGION", "AUTHPULSE_WAREHOUSE_URI", "AUTHPULSE_RAW_URI", "AUTHPULSE_STREAM", "AUTHPULSE_ALERT_TOPIC_ARN",
    "AUTHPULSE_PIPES_BUCKET", "AUTHPULSE_EMR_ARTIFACTS_URI", "AUTHPULSE_EMR_CLUSTER_ID",
    "AUTHPULSE_ATHENA_WORKGROUP", "AUTHPULSE_ATHENA_OUTPUT",
]


def load(**changes: str | None) -> Settings:
    env = {**VALID, **{k: v for k, v in changes.items() if v is not None}}
    for k, v in changes.items():
        if v is None:
            env.pop(k)
    return Settings.from_env(env)


def problem(**changes: str | None) -> str:
    with pytest.raises(ConfigError) as info:
        load(**changes)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_complete_environment_resolves_every_resource() -> None:
    s = load()
    aws = s.require_aws()
    assert s.env == "aws" and s.region == aws.region == "eu-west-1"
    assert aws.warehouse_uri == "s3://ap-warehouse/iceberg"  # trailing slash dropped
    assert aws.raw_uri == "s3://ap-raw/raw"
    assert aws.glue_database == "authpulse"
    assert s.stream_name == aws.stream_name == "authpulse-events"
    assert aws.alert_topic_arn.endswith(":authpulse-alerts")
    assert s.metrics_namespace == aws.metrics_namespace == "AuthPulse"
    assert aws.pipes_bucket == "ap-pipes-123456789012"
    assert aws.athena_workgroup == "authpulse" and aws.athena_output == "s3://ap-athena/results"
    assert aws.stream_checkpoint_uri == "s3://ap-warehouse/iceberg/_checkpoints/stream"
    emr = aws.emr
    assert emr.cluster_id == "j-2AXXXXXXGAPLF" and not emr.transient
    assert emr.archive_uri == "s3://ap-artifacts/emr/authpulse-emr.tar.gz"
    assert emr.launcher_uri == "s3://ap-artifacts/emr/authpulse_emr_main.py"
    assert emr.log_uri == "s3://ap-pipes-123456789012/emr-logs"
    assert emr.release_label == "emr-spark-8.1.0" and emr.python == "python3.11"


def test_aws_default_region_is_accepted() -> None:
    assert load(AWS_REGION=None, AWS_DEFAULT_REGION="us-west-2").region == "us-west-2"


@pytest.mark.parametrize("name", REQUIRED)
def test_each_missing_variable_is_named(name: str) -> None:
    message = problem(**{name: None})
    assert message.startswith(f"{name} is not set")
    assert "also missing" not in message


def test_an_empty_value_counts_as_missing() -> None:
    assert problem(AUTHPULSE_RAW_URI="  ").startswith("AUTHPULSE_RAW_URI is not set")


def test_several_problems_fit_on_one_line() -> None:
    message = problem(AUTHPULSE_RAW_URI=None, AUTHPULSE_ATHENA_OUTPUT=None, AUTHPULSE_STREAM=None)
    assert message.startswith("AUTHPULSE_RAW_URI is not set")
    assert message.endswith("also missing or invalid: AUTHPULSE_STREAM, AUTHPULSE_ATHENA_OUTPUT")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("AWS_REGION", "Ireland", "AWS_REGION='Ireland' is not a region name"),
        ("AUTHPULSE_WAREHOUSE_URI", "ap-warehouse/iceberg", "AUTHPULSE_WAREHOUSE_URI='ap-warehouse/iceberg' is not valid"),
        ("AUTHPULSE_ATHENA_OUTPUT", "https://x", "AUTHPULSE_ATHENA_OUTPUT='https://x' is not valid"),
        ("AUTHPULSE_ALERT_TOPIC_ARN", "authpulse-alerts", "AUTHPULSE_ALERT_TOPIC_ARN='authpulse-alerts' is not valid"),
        ("AUTHPULSE_PIPES_BUCKET", "s3://ap-pipes", "AUTHPULSE_PIPES_BUCKET='s3://ap-pipes' must be a bucket name"),
        ("AUTHPULSE_EMR_CLUSTER_ID", "my-cluster", "AUTHPULSE_EMR_CLUSTER_ID='my-cluster' is not valid"),
        ("AUTHPULSE_EMR_TRANSIENT", "maybe", "AUTHPULSE_EMR_TRANSIENT='maybe' must be on or off"),
        ("AUTHPULSE_EMR_INSTANCE_COUNT", "lots", "AUTHPULSE_EMR_INSTANCE_COUNT='lots' is not a whole number"),
        ("AUTHPULSE_GLUE_DATABASE", "Other DB", "AUTHPULSE_GLUE_DATABASE='Other DB' is not valid"),
        ("AUTHPULSE_GLUE_DATABASE", "other", "AUTHPULSE_GLUE_DATABASE='other' is not supported"),
    ],
)
def test_invalid_values_are_named(name: str, value: str, expected: str) -> None:
    assert problem(**{name: value}).startswith(expected)


def test_transient_clusters_need_roles_subnet_security_configuration_and_groups() -> None:
    message = problem(AUTHPULSE_EMR_CLUSTER_ID=None, AUTHPULSE_EMR_TRANSIENT="1")
    assert message.startswith("AUTHPULSE_EMR_SERVICE_ROLE is not set")
    # No optional subnet any more: without it a cluster lands in the default VPC.
    assert message.endswith(
        "also missing or invalid: AUTHPULSE_EMR_INSTANCE_PROFILE, AUTHPULSE_EMR_SUBNET_ID, AUTHPULSE_EMR_SECURITY_CONFIGURATION, "
        "AUTHPULSE_EMR_PRIMARY_SG, AUTHPULSE_EMR_CORE_SG, AUTHPULSE_EMR_SERVICE_ACCESS_SG"
    )
    s = load(AUTHPULSE_EMR_CLUSTER_ID=None, AUTHPULSE_EMR_INSTANCE_COUNT="5", **TRANSIENT)
    emr = s.require_aws().emr
    assert emr.transient and emr.cluster_id is None and emr.instance_count == 5
    assert (emr.subnet_id, emr.security_configuration) == ("subnet-0123456789abcdef0", "AuthPulse-SecurityConfiguration-ABC")
    assert (emr.primary_security_group, emr.core_security_group, emr.service_access_security_group) == (
        "sg-0123456789abcdef0", "sg-0123456789abcdef1", "sg-0123456789abcdef2")


def test_driver_and_executor_sizes_come_from_settings() -> None:
    emr = load().require_aws().emr
    assert (emr.driver_memory, emr.executor_memory, emr.executor_cores) == ("4g", "16g", 4)
    emr = load(AUTHPULSE_EMR_DRIVER_MEMORY="6g", AUTHPULSE_EMR_EXECUTOR_MEMORY="20480m", AUTHPULSE_EMR_EXECUTOR_CORES="5").require_aws().emr
    assert (emr.driver_memory, emr.executor_memory, emr.executor_cores) == ("6g", "20480m", 5)
    assert problem(AUTHPULSE_EMR_DRIVER_MEMORY="lots").startswith("AUTHPULSE_EMR_DRIVER_MEMORY='lots' is not valid")


def test_neither_cluster_nor_transient_is_explained() -> None:
    assert "or AUTHPULSE_EMR_TRANSIENT=1" in problem(AUTHPULSE_EMR_CLUSTER_ID=None)


def test_local_mode_reads_no_aws_setting() -> None:
    s = Settings.from_env({"AUTHPULSE_ENV": "local"})
    assert s.aws is None
    with pytest.raises(ConfigError, match="needs AUTHPULSE_ENV=aws"):
        s.require_aws()


def test_definitions_fail_at_load_with_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    env = dict(VALID)
    del env["AUTHPULSE_ATHENA_WORKGROUP"]
    with pytest.raises(ConfigError, match=r"^AUTHPULSE_ATHENA_WORKGROUP is not set"):
        build_definitions(Settings.from_env(env))
