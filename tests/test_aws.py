"""aws_client finds the endpoint only through the standard environment variables."""

from __future__ import annotations

import os
from typing import Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from authpulse_dagster import local_stack
from authpulse_dagster.aws import aws_client, local_aws_environment
from authpulse_dagster.errors import ConfigError
from authpulse_dagster.local_stack import apply_local_environment
from authpulse_dagster.settings import Settings
from tests.test_settings_aws import VALID as AWS_VALID


@pytest.fixture
def restore_environ() -> Iterator[None]:
    """apply_local_environment writes os.environ directly; undo it after the test."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _dead_endpoint() -> str:
    return f"http://127.0.0.1:{local_stack.find_free_port()}"


def test_client_uses_global_endpoint_variable(aws_env: Settings, moto_endpoint: str) -> None:
    kinesis = aws_client("kinesis", aws_env)
    assert kinesis.meta.endpoint_url == moto_endpoint
    kinesis.create_stream(StreamName=aws_env.stream_name, ShardCount=1)
    # Asked by name: list_streams is paged, and the session's shared server holds many streams.
    summary = kinesis.describe_stream_summary(StreamName=aws_env.stream_name)["StreamDescriptionSummary"]
    assert summary["StreamName"] == aws_env.stream_name


def test_per_service_variable_overrides_global(
    aws_env: Settings, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = _dead_endpoint()
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead)
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", moto_endpoint)

    kinesis = aws_client("kinesis", aws_env)
    assert kinesis.meta.endpoint_url == moto_endpoint
    kinesis.list_streams()  # answered by moto

    sns = aws_client("sns", aws_env, config=Config(retries={"mode": "standard", "max_attempts": 1}))
    assert sns.meta.endpoint_url == dead
    with pytest.raises(EndpointConnectionError):
        sns.list_topics()


def test_client_config_region_retries_timeouts(aws_env: Settings) -> None:
    client = aws_client("sqs", aws_env)
    assert client.meta.region_name == aws_env.region
    # botocore stores retries as total attempts: the first call plus 5 retries.
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 6}
    assert client.meta.config.connect_timeout == 5
    assert client.meta.config.read_timeout == 30


def test_caller_config_is_merged_over_defaults(aws_env: Settings) -> None:
    client = aws_client("sqs", aws_env, config=Config(read_timeout=3))
    assert client.meta.config.read_timeout == 3
    assert client.meta.config.retries["mode"] == "standard"


def test_endpoint_url_argument_is_refused(aws_env: Settings) -> None:
    with pytest.raises(TypeError, match="AWS_ENDPOINT_URL"):
        aws_client("sqs", aws_env, endpoint_url="http://example.invalid")


def test_local_environment_adds_dummy_credentials_only_when_absent() -> None:
    env = local_aws_environment("http://127.0.0.1:1", "eu-west-1", environ={})
    assert env == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    mine = {"AWS_ACCESS_KEY_ID": "AKIAMINE", "AWS_SECRET_ACCESS_KEY": "secret"}
    env = local_aws_environment("http://127.0.0.1:1", "eu-west-1", environ=mine)
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env


def test_apply_local_environment_reads_recorded_endpoint(
    moto_stack: local_stack.StackStatus, restore_environ: None
) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AUTHPULSE_ENV"):
        os.environ.pop(name, None)
    settings = Settings.from_env({"AUTHPULSE_HOME": str(moto_stack.home)})

    assert apply_local_environment(settings) == moto_stack.endpoint
    assert os.environ["AWS_ENDPOINT_URL"] == moto_stack.endpoint
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    topics = aws_client("sns", settings).list_topics()["Topics"]
    assert {"TopicArn": moto_stack.topic_arn} in topics


def test_apply_local_environment_keeps_an_explicit_endpoint(tmp_path, restore_environ: None) -> None:
    os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
    settings = Settings.from_env({"AUTHPULSE_HOME": str(tmp_path)})
    assert apply_local_environment(settings) == "http://127.0.0.1:9"
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"


def test_apply_local_environment_without_stack_or_in_aws_mode(
    moto_stack: local_stack.StackStatus, tmp_path, restore_environ: None
) -> None:
    os.environ.pop("AWS_ENDPOINT_URL", None)
    assert apply_local_environment(Settings.from_env({"AUTHPULSE_HOME": str(tmp_path)})) is None
    aws = Settings.from_env({**AWS_VALID, "AUTHPULSE_HOME": str(moto_stack.home)})
    assert apply_local_environment(aws) is None
    assert "AWS_ENDPOINT_URL" not in os.environ


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({}, "AWS_ENDPOINT_URL is not set"),
        ({"AWS_ENDPOINT_URL": "https://kinesis.us-east-1.amazonaws.com"}, "is not on this machine"),
        # The per-service variable wins in botocore, so it is the one checked.
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_KINESIS": "https://example.com"},
         "AWS_ENDPOINT_URL_KINESIS=https://example.com is not on this machine"),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "skip the local endpoint"),
    ],
)
def test_a_local_mode_client_that_would_reach_real_aws_is_refused(
    tmp_path, restore_environ: None, environ: dict, problem: str
) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update({"AWS_ACCESS_KEY_ID": "AKIAREALLOOKING", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value", **environ})
    settings = Settings.from_env({"AUTHPULSE_HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match="local mode never calls real AWS") as refused:
        aws_client("kinesis", settings)
    assert problem in str(refused.value) and "s3cr3t-value" not in str(refused.value)
    # The same environment in aws mode is the user's choice: the client is made (no call is sent).
    aws = Settings.from_env({**AWS_VALID, "AUTHPULSE_HOME": str(tmp_path)})
    assert aws_client("kinesis", aws).meta.service_model.service_name == "kinesis"


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:4566", "http://localhost:4566", "http://[::1]:4566", "http://127.0.0.2:1"])
def test_a_local_mode_client_on_this_machine_is_made(tmp_path, restore_environ: None, endpoint: str) -> None:
    os.environ.pop("AWS_ENDPOINT_URL_KINESIS", None)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    assert aws_client("kinesis", Settings.from_env({"AUTHPULSE_HOME": str(tmp_path)})).meta.endpoint_url == endpoint
