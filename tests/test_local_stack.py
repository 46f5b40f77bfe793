"""The local stack against real moto server processes.

Most tests share the session server (``moto_stack``); only the lifecycle test
starts its own, because it kills and restarts it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path

import pytest

from authpulse_dagster import local_stack
from authpulse_dagster.aws import aws_client
from authpulse_dagster.errors import EnvironmentProblem
from authpulse_dagster.settings import Settings


def _settings(home: Path, **extra: str) -> Settings:
    return Settings.from_env({"AUTHPULSE_HOME": str(home), "AWS_REGION": "us-east-1", **extra})


@pytest.fixture
def session_settings(moto_stack: local_stack.StackStatus, aws_env: Settings) -> Settings:
    """Settings of the session stack; clients reach it through aws_env's variables."""
    return _settings(moto_stack.home)


def test_up_creates_resources_and_raw_delivery_works(
    moto_stack: local_stack.StackStatus, session_settings: Settings
) -> None:
    s = session_settings
    assert moto_stack.running and moto_stack.stream == s.stream_name
    for name in ("warehouse", "logs", "run", "dagster", "landing"):
        assert (s.home / name).is_dir()
    assert (s.run_dir / "endpoint").read_text().strip() == moto_stack.endpoint
    assert int((s.run_dir / "moto.pid").read_text()) == moto_stack.pid

    summary = aws_client("kinesis", s).describe_stream_summary(StreamName=s.stream_name)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE" and summary["OpenShardCount"] == s.stream_shards

    sqs = aws_client("sqs", s)
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=moto_stack.queue_url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == moto_stack.topic_arn

    body = json.dumps({"alert": "impossible-travel", "user": "U42"})
    aws_client("sns", s).publish(TopicArn=moto_stack.topic_arn, Message=body)
    messages = sqs.receive_message(QueueUrl=moto_stack.queue_url, WaitTimeSeconds=2).get("Messages", [])
    assert [m["Body"] for m in messages] == [body]  # raw: no SNS envelope

    metrics = aws_client("cloudwatch", s).list_metrics(Namespace=s.metrics_namespace)["Metrics"]
    assert "StackUp" in {m["MetricName"] for m in metrics}


def test_up_again_reuses_the_server(moto_stack: local_stack.StackStatus, session_settings: Settings) -> None:
    again = local_stack.up(session_settings)
    assert again == moto_stack
    subs = aws_client("sns", session_settings).list_subscriptions_by_topic(TopicArn=moto_stack.topic_arn)["Subscriptions"]
    assert len(subs) == 1
    raw = aws_client("sns", session_settings).get_subscription_attributes(SubscriptionArn=subs[0]["SubscriptionArn"])
    assert raw["Attributes"]["RawMessageDelivery"] == "true"


def test_up_on_another_port_while_running_is_refused(
    moto_stack: local_stack.StackStatus, session_settings: Settings
) -> None:
    with pytest.raises(EnvironmentProblem, match="local down"):
        local_stack.up(session_settings, port=local_stack.find_free_port())


def test_status_of_running_stack(moto_stack: local_stack.StackStatus, session_settings: Settings) -> None:
    st = local_stack.status(session_settings)
    assert st == moto_stack
    assert st.catalog_uri == f"sqlite:///{session_settings.home / 'catalog.db'}"


def test_ensure_resources_with_per_test_names(aws_resources: local_stack.LocalResources, aws_env: Settings) -> None:
    assert aws_resources.stream == aws_env.stream_name
    assert aws_resources.topic_arn.endswith(":" + aws_env.alert_topic)
    assert aws_resources.queue_url.endswith("/" + aws_env.alert_queue)


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(EnvironmentProblem) as err:
            local_stack.up(_settings(tmp_path, AUTHPULSE_MOTO_PORT=str(port)))
    assert str(err.value) == (
        f"port {port} on 127.0.0.1 is in use; stop what uses it or pass --port / set AUTHPULSE_MOTO_PORT"
    )
    assert not local_stack.status(_settings(tmp_path)).running


def test_server_dying_at_startup_names_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Lose the race for the port after the check: moto itself fails to bind.
    monkeypatch.setattr(local_stack, "_port_is_free", lambda port: True)
    s = _settings(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(EnvironmentProblem, match="exited with code .* while starting; see .*moto.log"):
            local_stack.up(s, port=busy.getsockname()[1])
    assert "Address already in use" in (s.logs_dir / "moto.log").read_text()
    assert not (s.run_dir / "moto.pid").exists()


def test_stale_pid_file_is_not_trusted(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    s.run_dir.mkdir(parents=True)
    # Our own pid stands in for an unrelated process that reused the number.
    (s.run_dir / "moto.pid").write_text(f"{os.getpid()}\n")
    (s.run_dir / "endpoint").write_text(f"http://127.0.0.1:{local_stack.find_free_port()}\n")
    assert not local_stack.status(s).running
    assert local_stack.down(s) is False
    assert not (s.run_dir / "moto.pid").exists()


def test_lifecycle_kill_restart_down(tmp_path: Path, aws_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _settings(tmp_path / "home")
    first = local_stack.up(s, port=local_stack.find_free_port())
    try:
        assert os.getsid(first.pid) == first.pid  # detached from our session
        os.kill(first.pid, signal.SIGKILL)
        assert not local_stack.status(s).running

        second = local_stack.up(s, port=first.port)
        assert second.running and second.pid != first.pid
        assert (s.logs_dir / "moto.log.1").exists()
        # A fresh server has empty state: the resources must have been recreated.
        monkeypatch.setenv("AWS_ENDPOINT_URL", str(second.endpoint))
        assert s.stream_name in aws_client("kinesis", s).list_streams()["StreamNames"]
        assert second.topic_arn and second.queue_url

        assert local_stack.down(s) is True
        assert not local_stack.status(s).running
        assert not (s.run_dir / "moto.pid").exists() and not (s.run_dir / "endpoint").exists()
        assert local_stack.down(s) is False
    finally:
        local_stack.down(s)
