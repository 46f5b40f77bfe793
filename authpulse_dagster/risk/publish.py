"""Alert delivery: each alert goes to the SNS topic once per severity it reaches.

The ``alert_deliveries`` table is the ledger: before publishing, the alerts
of the days are compared with what was already sent, so re-running a day,
a replayed streaming batch, or the batch and streaming paths both scoring the
same day never send the same alert twice. An alert that escalates (medium →
high) is sent again once, marked ``escalated_from``; one that calms down is
not re-sent. Publishing happens after the alerts table is committed, so a
crash between the two re-sends at most the alerts of that moment on retry
(at-least-once), never loses one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Iterable

from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F

from authpulse_dagster import notify
from authpulse_dagster.local_stack import apply_local_environment
from authpulse_dagster.errors import EnvironmentProblem
from authpulse_dagster.lakehouse.schemas import ALERT_DELIVERIES, ALERTS
from authpulse_dagster.lakehouse import spark_tables
from authpulse_dagster.settings import Settings

SEVERITY_RANK = {"medium": 1, "high": 2, "critical": 3}
MAX_EVENT_IDS_IN_MESSAGE = 10


@dataclass(frozen=True)
class Delivery:
    sent: int
    already_sent: int
    topic_arn: str


def pending(alerts: list[dict], delivered: list[dict]) -> list[tuple[dict, str | None]]:
    """Alerts to send now, each with the severity it escalates from (None if new)."""
    best: dict[str, int] = {}
    for d in delivered:
        best[d["alert_id"]] = max(best.get(d["alert_id"], 0), SEVERITY_RANK[d["severity"]])
    out = []
    for a in sorted(alerts, key=lambda a: (a["event_date"], a["user_id"])):
        rank = SEVERITY_RANK[a["severity"]]
        sent = best.get(a["alert_id"], 0)
        if rank > sent:
            previous = next((s for s, r in SEVERITY_RANK.items() if r == sent), None)
            out.append((a, previous))
    return out


def message(alert: dict, escalated_from: str | None, path: str) -> tuple[str, dict, dict]:
    """Subject, JSON body and message attributes of one alert."""
    subject = f"AuthPulse {alert['severity']} risk: user {alert['user_id']} on {alert['event_date']}"
    body = {
        "alert_id": alert["alert_id"],
        "user_id": alert["user_id"],
        "event_date": str(alert["event_date"]),
        "severity": alert["severity"],
        "score": round(float(alert["score"]), 1),
        "reasons": list(alert["reasons"]),
        "first_event_ts": alert["first_event_ts"].isoformat(),
        "last_event_ts": alert["last_event_ts"].isoformat(),
        "event_count": len(alert["event_ids"]),
        "top_event_ids": list(alert["event_ids"])[:MAX_EVENT_IDS_IN_MESSAGE],
        "model_version": alert.get("model_version"),
        "escalated_from": escalated_from,
        "path": path,
    }
    return subject, body, {"severity": alert["severity"], "user": alert["user_id"]}


def _rows(spark: SparkSession, table_def, days: list[date]) -> list[dict]:
    """The days' rows of a small table (alerts, the ledger) on the driver, times as aware UTC datetimes."""
    df = spark_tables.read_days(spark, table_def, days[0], days[-1]).where(F.col("event_date").isin(days))
    return [_aware(r) for r in df.collect()]


def _aware(row: Row) -> dict:
    # PySpark hands timestamps back as naive local times of this process.
    return {k: v.astimezone(timezone.utc) if isinstance(v, datetime) else v for k, v in row.asDict().items()}


def deliver(settings: Settings, spark: SparkSession, days: Iterable[date], path: str,
            snapshot_properties: dict[str, str] | None = None) -> Delivery:
    """Publish the not-yet-sent alerts of ``days``; record each in the ledger."""
    days = sorted(set(days))
    alerts = _rows(spark, ALERTS, days)
    delivered = _rows(spark, ALERT_DELIVERIES, days)
    todo = pending(alerts, delivered)
    if not todo:
        return Delivery(sent=0, already_sent=len(alerts), topic_arn="")
    if settings.env == "local" and apply_local_environment(settings) is None:
        raise EnvironmentProblem(
            f"{len(todo)} alert(s) written but not sent: the local stack is not running; "
            "run 'authpulse local up' and materialize alerts again"
        )
    arn = notify.topic_arn(settings)
    rows = []
    try:
        for alert, previous in todo:
            subject, body, attrs = message(alert, previous, path)
            message_id = notify.publish(settings, "risk_alert", subject, body, attrs, arn=arn)
            rows.append(
                {
                    "alert_id": alert["alert_id"],
                    "event_date": alert["event_date"],
                    "severity": alert["severity"],
                    "message_id": message_id,
                    "topic_arn": arn,
                    "sent_at": datetime.now(timezone.utc),
                    "path": path,
                }
            )
    finally:
        # Whatever went out is recorded, even if a later publish failed.
        if rows:
            ledger = spark_tables.dataframe(spark, ALERT_DELIVERIES, rows)
            spark_tables.append(ledger, ALERT_DELIVERIES, {"authpulse.asset": ALERT_DELIVERIES.name, **(snapshot_properties or {})})
    return Delivery(sent=len(rows), already_sent=len(alerts) - len(todo), topic_arn=arn)
