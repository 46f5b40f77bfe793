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

import pyarrow as pa
from pyiceberg.catalog import Catalog

from authpulse_dagster import notify
from authpulse_dagster.aws import apply_local_environment
from authpulse_dagster.errors import EnvironmentProblem
from authpulse_dagster.lakehouse.schemas import ALERT_DELIVERIES, ALERTS
from authpulse_dagster.lakehouse.tables import conform, days_filter, ensure_table
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


def deliver(settings: Settings, catalog: Catalog, days: Iterable[date], path: str) -> Delivery:
    """Publish the not-yet-sent alerts of ``days``; record each in the ledger."""
    days = sorted(set(days))
    row_filter = days_filter(days)
    alerts = ensure_table(catalog, ALERTS).scan(row_filter=row_filter).to_arrow().to_pylist()
    ledger = ensure_table(catalog, ALERT_DELIVERIES)
    delivered = ledger.scan(row_filter=row_filter).to_arrow().to_pylist()
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
            ledger.append(conform(ledger, pa.Table.from_pylist(rows)))
    return Delivery(sent=len(rows), already_sent=len(alerts) - len(todo), topic_arn=arn)
