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
    records_per_second: float | None = None
    # The dedup state store after the previous batch (Spark reports a batch's state once it has ended).
    state_rows: int | None = None
    state_bytes: int | None = None


def state_store(progress: dict | None) -> tuple[int | None, int | None]:
    """(rows, memory bytes) of a query's state stores in its last progress, summed over operators."""
    operators = (progress or {}).get("stateOperators") or []
    if not operators:
        return None, None
    return (sum(int(op.get("numRowsTotal", 0)) for op in operators),
            sum(int(op.get("memoryUsedBytes", 0)) for op in operators))


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
        ("RecordsPerSecond", m.records_per_second, "Count/Second"),
        ("StateRows", m.state_rows, "Count"),
        ("StateMemoryBytes", m.state_bytes, "Bytes"),
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
