"""Messages to people: every AuthPulse notification goes through the SNS alert topic.

Risk alerts, lag alerts, recoveries, streaming-health and run-failure
messages share one envelope so a subscriber (an SQS queue locally, e-mail or
a pager in AWS) can route on message attributes without parsing the body:

    {"kind": "risk_alert", "subject": "...", "sent_at": "...Z", ...body}

with the attributes ``kind`` and, where they apply, ``severity`` and ``user``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from authpulse_dagster.aws import aws_client
from authpulse_dagster.errors import ConfigError
from authpulse_dagster.settings import Settings

SUBJECT_MAX = 100  # SNS rejects longer subjects


def topic_arn(settings: Settings) -> str:
    """The alert topic's ARN: configured in AWS, found (or made) by name locally."""
    if settings.aws is not None:
        return settings.aws.alert_topic_arn
    # create_topic is idempotent and returns the existing topic's ARN.
    return aws_client("sns", settings).create_topic(Name=settings.alert_topic)["TopicArn"]


def publish(
    settings: Settings,
    kind: str,
    subject: str,
    body: Mapping[str, Any],
    attributes: Mapping[str, str] | None = None,
    arn: str | None = None,
) -> str:
    """Publish one JSON message; return its SNS message id."""
    message = {"kind": kind, "subject": subject, "sent_at": _now(), **body}
    attrs = {"kind": kind, **{k: v for k, v in (attributes or {}).items() if v}}
    response = aws_client("sns", settings).publish(
        TopicArn=arn or topic_arn(settings),
        Subject=subject[:SUBJECT_MAX],
        Message=json.dumps(message, default=str, sort_keys=True),
        MessageAttributes={k: {"DataType": "String", "StringValue": str(v)} for k, v in attrs.items()},
    )
    return response["MessageId"]


@dataclass(frozen=True)
class Received:
    """A message read back from the local alert queue."""

    message_id: str
    attributes: dict[str, str]
    body: dict[str, Any]


def _queue_url(settings: Settings) -> str:
    sqs = aws_client("sqs", settings)
    try:
        return sqs.get_queue_url(QueueName=settings.alert_queue)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        raise ConfigError(
            f"alert queue {settings.alert_queue!r} does not exist; run 'authpulse local up' first"
        ) from None


def receive(settings: Settings, wait_seconds: int = 1, delete: bool = True) -> list[Received]:
    """Read what is waiting in the local alert queue (the queue subscribed to the topic)."""
    sqs = aws_client("sqs", settings)
    url = _queue_url(settings)
    out: list[Received] = []
    while True:
        resp = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds, MessageAttributeNames=["All"]
        )
        messages = resp.get("Messages", [])
        if not messages:
            return out
        for m in messages:
            out.append(_decode(m))
            if delete:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        wait_seconds = 0  # drain what is there, then return


def tail(settings: Settings, poll_seconds: int = 5, stop_after: float | None = None) -> Iterator[Received]:
    """Yield messages as they arrive (long polling) until ``stop_after`` seconds pass."""
    deadline = None if stop_after is None else time.monotonic() + stop_after
    while deadline is None or time.monotonic() < deadline:
        yield from receive(settings, wait_seconds=poll_seconds)


def _decode(message: Mapping[str, Any]) -> Received:
    body = json.loads(message["Body"])
    # Raw delivery puts our JSON in the body; an envelope (raw delivery off) wraps it.
    if isinstance(body, dict) and body.get("Type") == "Notification" and "Message" in body:
        attrs = {k: v.get("Value", "") for k, v in body.get("MessageAttributes", {}).items()}
        return Received(body.get("MessageId", message["MessageId"]), attrs, json.loads(body["Message"]))
    attrs = {k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()}
    return Received(message["MessageId"], attrs, body)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
