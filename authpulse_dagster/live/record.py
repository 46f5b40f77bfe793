"""The Kinesis record AuthPulse's replay producer sends: one JSON object per LANL line.

Schema ``authpulse.lanl.v1`` (bump the version on any incompatible change):

================  =========  ==========================================================
field             type       meaning
================  =========  ==========================================================
``schema``        string     always ``"authpulse.lanl.v1"``
``event_id``      string     the deterministic id (``lanl.event_id``), same as the batch path
``format``        string     ``lanl2014`` or ``lanl2015``
``line``          string     the original line, if it is valid UTF-8 (else null)
``line_b64``      string     base64 of the original line bytes, when it is not UTF-8 (else null)
``payload_size``  int        true byte length of the line (``line`` may be truncated to fit 1 MiB)
``truncated``     bool       true when ``line``/``line_b64`` were cut to fit a Kinesis record
``fields``        [string]   the line split on commas (the original fields), [] if not UTF-8
``dataset_time``  int|null   the time field when it is a valid dataset time
``event_date``    string     the day the line is filed under (ISO date), by the batch rule
``source_file``   string     the file it was read from
``line_number``   int        1-based line number in that file
``replay_time``   string     when the producer sent it (ISO-8601 UTC, ms)
================  =========  ==========================================================

The partition key is the user id (``fields[1]``, for per-user ordering), or
the event id for a line without one.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, timezone
from typing import Any

SCHEMA = "authpulse.lanl.v1"
MAX_RECORD_BYTES = 1 << 20  # Kinesis: 1 MiB per record, data plus partition key


def encode(
    *,
    event_id: str,
    fmt: str,
    line: bytes,
    payload_size: int,
    dataset_time: int | None,
    event_date: date,
    source_file: str,
    line_number: int,
    replay_time: datetime | None = None,
) -> tuple[bytes, str]:
    """Return (record data, partition key) for one line, cut to fit a Kinesis record."""
    replay_time = replay_time or datetime.now(timezone.utc)
    try:
        text: str | None = line.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "event_id": event_id,
        "format": fmt,
        "line": text,
        "line_b64": None if text is not None else base64.b64encode(line).decode("ascii"),
        "payload_size": payload_size,
        "truncated": payload_size > len(line),
        "fields": text.split(",") if text is not None else [],
        "dataset_time": dataset_time,
        "event_date": event_date.isoformat(),
        "source_file": source_file,
        "line_number": line_number,
        "replay_time": replay_time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    key = partition_key(record)
    data = json.dumps(record, separators=(",", ":")).encode("utf-8")
    if len(data) + len(key.encode()) > MAX_RECORD_BYTES:
        data = _shrink(record, key)
    return data, key


def partition_key(record: dict[str, Any]) -> str:
    fields = record.get("fields") or []
    user = fields[1].strip() if len(fields) > 1 else ""
    return (user or record["event_id"])[:256]


def _shrink(record: dict[str, Any], key: str) -> bytes:
    """Drop the split fields and cut the line so the record fits; the full size stays in payload_size."""
    record = {**record, "fields": [], "truncated": True}
    budget = MAX_RECORD_BYTES - len(key.encode()) - 4096
    if record["line"] is not None:
        record["line"] = record["line"].encode("utf-8")[: budget // 2].decode("utf-8", "ignore")
    else:
        record["line_b64"] = record["line_b64"][: (budget // 4) * 4]
    return json.dumps(record, separators=(",", ":")).encode("utf-8")
