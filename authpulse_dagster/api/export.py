"""The triage export: DynamoDB's triage state as two small Parquet files the lakehouse side reads.

- ``alert_triage.parquet``: one row per triaged alert (status, assignee,
  version, who and when). The named queries see it as the table
  ``authpulse.alert_triage`` (DuckDB registers the file locally; in AWS a
  Glue table over the same prefix serves Athena) and the dashboard shows it.
- ``suppressions.parquet``: the rows of :mod:`.suppressions`, which the
  alerts step reads.

The API rewrites both after every triage change (and ``authpulse api
export`` does on demand); each file is replaced whole (a local rename, or
one S3 PUT), so a reader sees the previous export or the new one. Alerts
never triaged have no row: readers take a missing row as ``open``.
Locally the files live in ``$AUTHPULSE_HOME/triage/``; in AWS under
``AUTHPULSE_TRIAGE_URI`` (default ``<warehouse>/_triage``).
"""

from __future__ import annotations

import io
import os
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from authpulse_dagster.api.config import is_s3, triage_location
from authpulse_dagster.api.suppressions import Suppression, frame, from_triage, silence
from authpulse_dagster.api.triage import TriageState
from authpulse_dagster.settings import Settings

TRIAGE_TABLE = "alert_triage"
TRIAGE_FILE = "alert_triage/alert_triage.parquet"
SUPPRESSIONS_FILE = "suppressions/suppressions.parquet"

TRIAGE_SCHEMA = pa.schema([
    pa.field("alert_id", pa.string(), nullable=False),
    pa.field("status", pa.string(), nullable=False),
    pa.field("assignee", pa.string()),
    pa.field("version", pa.int64(), nullable=False),
    pa.field("updated_at", pa.timestamp("us", tz="UTC")),
    pa.field("updated_by", pa.string()),
    pa.field("entity_type", pa.string()),
    pa.field("entity", pa.string()),
    pa.field("event_date", pa.date32()),
])
SUPPRESSIONS_SCHEMA = pa.schema([
    pa.field("entity_type", pa.string(), nullable=False),
    pa.field("entity", pa.string(), nullable=False),
    pa.field("reason", pa.string(), nullable=False),
    pa.field("after_day", pa.date32(), nullable=False),
    pa.field("until_day", pa.date32(), nullable=False),
    pa.field("alert_id", pa.string(), nullable=False),
    pa.field("set_by", pa.string()),
    pa.field("set_at", pa.string()),
])


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def triage_table(states: Iterable[TriageState]) -> pa.Table:
    rows = [
        {"alert_id": s.alert_id, "status": s.status, "assignee": s.assignee, "version": s.version, "updated_at": _time(s.updated_at),
         "updated_by": s.updated_by, "entity_type": s.entity_type, "entity": s.entity,
         "event_date": date.fromisoformat(s.event_date) if s.event_date else None}
        for s in sorted(states, key=lambda s: s.alert_id)
    ]
    return pa.Table.from_pylist(rows, schema=TRIAGE_SCHEMA)


def suppressions_table(rows: Iterable[Suppression]) -> pa.Table:
    return pa.Table.from_pylist([r.__dict__ for r in rows], schema=SUPPRESSIONS_SCHEMA)


def merged(states: Iterable[TriageState], fresher: Iterable[TriageState] = ()) -> list[TriageState]:
    """``states`` with each of ``fresher`` in place of an older version (the index may lag a write just made)."""
    by_id = {s.alert_id: s for s in states}
    for s in fresher:
        if s.alert_id not in by_id or by_id[s.alert_id].version < s.version:
            by_id[s.alert_id] = s
    return list(by_id.values())


def write(settings: Settings, states: Iterable[TriageState]) -> dict[str, int]:
    """Write both files from the triage ``states``; returns rows per file."""
    states = list(states)
    location = triage_location(settings)
    triage = triage_table(states)
    suppressions = suppressions_table(from_triage(states, settings.suppression_days))
    _put(settings, location, TRIAGE_FILE, triage)
    _put(settings, location, SUPPRESSIONS_FILE, suppressions)
    return {TRIAGE_FILE: triage.num_rows, SUPPRESSIONS_FILE: suppressions.num_rows}


def _put(settings: Settings, location: str, name: str, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    payload = buffer.getvalue()
    if is_s3(location):
        from authpulse_dagster.aws import aws_client

        bucket, _, prefix = location[len("s3://"):].partition("/")
        key = f"{prefix}/{name}" if prefix else name
        aws_client("s3", settings).put_object(Bucket=bucket, Key=key, Body=payload, ContentType="application/vnd.apache.parquet")
        return
    path = Path(location) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _get(settings: Settings, location: str, name: str, schema: pa.Schema) -> pa.Table:
    """The exported file, or an empty table with its schema when nothing was exported yet."""
    if is_s3(location):
        from botocore.exceptions import ClientError

        from authpulse_dagster.aws import aws_client

        bucket, _, prefix = location[len("s3://"):].partition("/")
        key = f"{prefix}/{name}" if prefix else name
        try:
            body = aws_client("s3", settings).get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return schema.empty_table()
            raise
        return pq.read_table(io.BytesIO(body)).cast(schema)
    path = Path(location) / name
    if not path.exists():
        return schema.empty_table()
    return pq.read_table(path).cast(schema)


def read_triage(settings: Settings) -> pa.Table:
    return _get(settings, triage_location(settings), TRIAGE_FILE, TRIAGE_SCHEMA)


def read_suppressions(settings: Settings) -> list[Suppression]:
    table = _get(settings, triage_location(settings), SUPPRESSIONS_FILE, SUPPRESSIONS_SCHEMA)
    return [Suppression(**row) for row in table.to_pylist()]


def local_triage_file(settings: Settings) -> Path | None:
    """The local export file DuckDB can read directly (None in AWS, where Athena reads the prefix)."""
    location = triage_location(settings)
    return None if is_s3(location) else Path(location) / TRIAGE_FILE


def for_alerts_step(settings, daily: "DataFrame", entity_type: str = "user", entity: str = "user_id") -> "DataFrame":
    """``daily`` silenced by the exported suppressions; unchanged when there are none (nothing joined)."""
    rows = read_suppressions(settings)
    if not rows:
        return daily
    return silence(daily, frame(daily.sparkSession, rows), entity_type=entity_type, entity=entity)
