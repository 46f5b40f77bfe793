"""Custom CloudWatch metrics the streaming job publishes after every micro-batch.

Namespace ``settings.metrics_namespace`` (``AuthPulse``), dimension
``StreamName``. Locally they go to the moto server's CloudWatch. Publishing
is best effort: a metrics outage must not stop the job, so failures are
logged and counted, never raised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from authpulse_dagster.aws import aws_client
from authpulse_dagster.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class BatchMetrics:
    records: int
    quarantined: int
    late: int
    batch_seconds: float
    millis_behind_latest: int | None
    processing_lag_ms: int | None


def publish(settings: Settings, stream: str, m: BatchMetrics, client=None) -> bool:
    now = datetime.now(timezone.utc)
    dims = [{"Name": "StreamName", "Value": stream}]
    data = [
        ("RecordsProcessed", m.records, "Count"),
        ("RecordsQuarantined", m.quarantined, "Count"),
        ("LateEvents", m.late, "Count"),
        ("BatchDuration", m.batch_seconds * 1000.0, "Milliseconds"),
        ("MillisBehindLatest", m.millis_behind_latest, "Milliseconds"),
        ("ProcessingLag", m.processing_lag_ms, "Milliseconds"),
    ]
    try:
        (client or aws_client("cloudwatch", settings)).put_metric_data(
            Namespace=settings.metrics_namespace,
            MetricData=[
                {"MetricName": name, "Dimensions": dims, "Timestamp": now, "Value": float(value), "Unit": unit}
                for name, value, unit in data
                if value is not None
            ],
        )
        return True
    except Exception as exc:  # noqa: BLE001 - metrics are best effort by design
        log.warning("could not publish metrics: %s", exc)
        return False
