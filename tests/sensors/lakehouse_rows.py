"""Real Iceberg commits for sensor tests: bronze, late_events and silver rows shaped like the streaming job's."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Mapping

from authpulse_dagster.lakehouse.schemas import LATE_EVENTS, RAW_EVENTS, TableDef
from authpulse_dagster.settings import Settings
from tests.fixtures.lakehouse import write_rows


def _append(settings: Settings, table_def: TableDef, rows: list[dict], props: Mapping[str, str] | None = None) -> int:
    return write_rows(settings, table_def, rows, props, append=True)


# The tests' dataset epoch (tests/fixtures/lakehouse.py): a row's payload time must fall on its event_date,
# as the bronze writers make it, or silver rightly refuses to file it under that day.
EPOCH_DAY = date(2024, 1, 1)


def _payload(day: date, i: int) -> tuple[int, bytes]:
    t = (day - EPOCH_DAY).days * 86_400 + 1 + i
    return t, f"{t},U1,C1".encode()


def kinesis_rows(day: date, n: int, arrival: datetime, ingested: datetime, tag: str = "e") -> list[dict]:
    """``n`` bronze rows of ``day`` that reached Kinesis at ``arrival`` and were landed at ``ingested``."""
    return [
        {
            "event_id": f"{tag}-{day}-{i}", "payload": _payload(day, i)[1], "payload_size": len(_payload(day, i)[1]),
            "source": "kinesis", "format": "lanl2014", "dataset_time": _payload(day, i)[0],
            "shard_id": "shardId-000000000000", "sequence_number": str(i),
            "arrival_ts": arrival, "event_date": day, "ingested_at": ingested,
        }
        for i in range(n)
    ]


def file_rows(day: date, n: int, ingested: datetime) -> list[dict]:
    return [
        {"event_id": f"f-{day}-{i}", "payload": _payload(day, i)[1], "payload_size": len(_payload(day, i)[1]),
         "source": "file", "format": "lanl2014", "source_file": "x.txt", "line_number": i + 1,
         "dataset_time": _payload(day, i)[0], "event_date": day, "ingested_at": ingested}
        for i in range(n)
    ]


def append_bronze(settings: Settings, rows: list[dict], props: Mapping[str, str] | None = None) -> int:
    return _append(settings, RAW_EVENTS, rows, props)


def append_late_events(settings: Settings, day: date, n: int = 2, batch_id: int = 7) -> int:
    ts = datetime.combine(day, datetime.min.time(), timezone.utc) + timedelta(minutes=1)
    rows = [
        {"event_id": f"late-{day}-{i}", "event_date": day, "event_ts": ts, "watermark": ts + timedelta(hours=1),
         "batch_id": batch_id, "arrival_ts": datetime.now(timezone.utc)}
        for i in range(n)
    ]
    return _append(settings, LATE_EVENTS, rows, {"authpulse.stream_id": "s1", "authpulse.stream_batch_id": str(batch_id)})
