"""notify: JSON over SNS, read back from the SQS queue subscribed to the topic (moto over HTTP)."""

from __future__ import annotations

import pytest

from authpulse_dagster import notify
from authpulse_dagster.errors import ConfigError


def test_publish_reaches_the_queue_with_attributes(aws_resources, aws_env):
    mid = notify.publish(aws_env, "risk_alert", "AuthPulse: U1 high", {"user_id": "U1", "score": 91.5}, {"severity": "high", "user": "U1"})
    got = notify.receive(aws_env, wait_seconds=2)
    assert len(got) == 1
    msg = got[0]
    assert msg.body["kind"] == "risk_alert" and msg.body["user_id"] == "U1" and msg.body["score"] == 91.5
    assert msg.attributes == {"kind": "risk_alert", "severity": "high", "user": "U1"}
    assert mid
    assert notify.receive(aws_env, wait_seconds=0) == []  # deleted after reading


def test_receive_without_a_queue_says_what_to_do(aws_env):
    with pytest.raises(ConfigError, match="authpulse local up"):
        notify.receive(aws_env, wait_seconds=0)
