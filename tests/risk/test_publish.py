"""Alert delivery: through SNS to the subscribed SQS queue (moto over HTTP), never twice."""

from __future__ import annotations

from datetime import date, datetime, timezone

from authpulse_dagster import notify
from authpulse_dagster.lakehouse.schemas import ALERTS
from authpulse_dagster.risk import publish
from tests.fixtures.lakehouse import write_rows

DAY = date(2024, 1, 11)
T = datetime(2024, 1, 11, 13, 0, tzinfo=timezone.utc)


def alert(user: str, severity: str, score: float) -> dict:
    return {
        "alert_id": f"a-{user}", "user_id": user, "event_date": DAY, "created_at": T, "severity": severity,
        "score": score, "reasons": ["fan_out_spike", "first_time_access"], "first_event_ts": T,
        "last_event_ts": T, "event_ids": ["e1", "e2"], "updated_at": T, "model_version": "rules-v1",
    }


def write_alerts(settings, rows: list[dict]) -> None:
    write_rows(settings, ALERTS, rows, {"authpulse.asset": "alerts"})


def test_pending_sends_new_and_escalated_alerts_only():
    delivered = [{"alert_id": "a-U1", "severity": "medium"}, {"alert_id": "a-U2", "severity": "high"}]
    alerts = [alert("U1", "high", 85), alert("U2", "medium", 65), alert("U3", "medium", 61)]
    todo = publish.pending(alerts, delivered)
    assert [(a["user_id"], prev) for a, prev in todo] == [("U1", "medium"), ("U3", None)]


def test_alerts_reach_the_queue_once_with_attributes(aws_resources, aws_env, spark):
    from authpulse_dagster.lakehouse.catalog import load_catalog
    from authpulse_dagster.spark import get_spark

    spark = get_spark(aws_env)
    write_alerts(aws_env, [alert("U1", "high", 85.0), alert("U2", "medium", 62.0)])
    first = publish.deliver(aws_env, spark, [DAY], "batch")
    assert (first.sent, first.already_sent) == (2, 0)
    got = sorted(notify.receive(aws_env, wait_seconds=2), key=lambda m: m.body["user_id"])
    assert [(m.attributes["severity"], m.attributes["user"], m.attributes["kind"]) for m in got] == [
        ("high", "U1", "risk_alert"),
        ("medium", "U2", "risk_alert"),
    ]
    body = got[0].body
    assert body["alert_id"] == "a-U1" and body["score"] == 85.0 and body["reasons"][0] == "fan_out_spike"
    assert body["path"] == "batch" and body["escalated_from"] is None and body["top_event_ids"] == ["e1", "e2"]

    # Running delivery again (a rebuilt day, the stream scoring the same day) sends nothing.
    again = publish.deliver(aws_env, spark, [DAY], "stream")
    assert (again.sent, again.already_sent) == (0, 2)
    assert notify.receive(aws_env, wait_seconds=1) == []

    # U2 escalates: one more message, marked as an escalation.
    write_alerts(aws_env, [alert("U1", "high", 85.0), alert("U2", "critical", 97.0)])
    assert publish.deliver(aws_env, spark, [DAY], "stream").sent == 1
    (msg,) = notify.receive(aws_env, wait_seconds=2)
    assert msg.body["user_id"] == "U2" and msg.body["escalated_from"] == "medium" and msg.body["path"] == "stream"
    ledger = load_catalog(aws_env).load_table("authpulse.alert_deliveries").scan().to_arrow()
    assert sorted(zip(ledger["alert_id"].to_pylist(), ledger["severity"].to_pylist())) == [
        ("a-U1", "high"), ("a-U2", "critical"), ("a-U2", "medium"),
    ]
