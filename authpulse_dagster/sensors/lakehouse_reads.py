"""The few lakehouse reads the sensors make, with pyiceberg only.

A sensor tick runs in the code server between two daemon heartbeats, so it
must stay light: no Spark, and mostly metadata. Which days a commit touched
comes from the partition values of the data files it added (manifest
entries), never from reading the data; only the processing-delay rule scans
rows, and then only the three columns it needs, of the files whose
``ingested_at`` bounds overlap the episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThanOrEqual
from pyiceberg.manifest import ManifestEntryStatus
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from authpulse_dagster.lakehouse.schemas import LATE_EVENTS, NAMESPACE, RAW_EVENTS

_EPOCH_DAY = date(1970, 1, 1)


def load_if_exists(catalog: Catalog, name: str) -> Table | None:
    """The table, or None when nothing has written it yet (a sensor must not create tables)."""
    try:
        return catalog.load_table(f"{NAMESPACE}.{name}")
    except NoSuchTableError:
        return None


def _as_date(value: object) -> date:
    # Iceberg keeps a date partition value as days since 1970-01-01.
    return value if isinstance(value, date) else _EPOCH_DAY + timedelta(days=int(value))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Commit:
    """One snapshot of a table, as much as the sensors need of it."""

    snapshot_id: int
    committed_at: datetime
    summary: dict[str, str]

    @property
    def run_id(self) -> str | None:
        return self.summary.get("authpulse.dagster_run_id")


def commits_after(table: Table, after_ms: int) -> list[Commit]:
    """Snapshots committed strictly after ``after_ms`` (epoch milliseconds), oldest first."""
    out = []
    for snapshot in table.metadata.snapshots:
        if snapshot.timestamp_ms > after_ms:
            out.append(_commit(snapshot))
    return sorted(out, key=lambda c: (c.committed_at, c.snapshot_id))


def commits_between(table: Table, start: datetime, end: datetime) -> list[Commit]:
    lo, hi = _ms(start), _ms(end)
    return [c for c in commits_after(table, lo - 1) if _ms(c.committed_at) <= hi]


def _commit(snapshot: Snapshot) -> Commit:
    summary = dict(snapshot.summary.additional_properties) if snapshot.summary else {}
    return Commit(snapshot.snapshot_id, datetime.fromtimestamp(snapshot.timestamp_ms / 1000, timezone.utc), summary)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def days_added_by(table: Table, snapshot_id: int) -> set[date]:
    """Days (``event_date`` partitions) that received data files in this snapshot."""
    snapshot = table.snapshot_by_id(snapshot_id)
    if snapshot is None:  # expired since it was listed
        return set()
    days: set[date] = set()
    for manifest in snapshot.manifests(table.io):
        if manifest.added_snapshot_id != snapshot_id:
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if entry.status == ManifestEntryStatus.ADDED and entry.snapshot_id == snapshot_id:
                days.add(_as_date(entry.data_file.partition[0]))
    return days


def late_event_days(catalog: Catalog, start: datetime, end: datetime) -> set[date]:
    """Days of events the streaming job put in ``late_events`` (past its watermark) in [start, end]."""
    table = load_if_exists(catalog, LATE_EVENTS.name)
    if table is None:
        return set()
    days: set[date] = set()
    for commit in commits_between(table, start, end):
        days |= days_added_by(table, commit.snapshot_id)
    return days


def delayed_days(catalog: Catalog, start: datetime, end: datetime, min_delay_ms: int) -> set[date]:
    """Days of stream records landed in [start, end] at least ``min_delay_ms`` after they reached Kinesis.

    The delay of a record is ``ingested_at - arrival_ts`` (when the job landed
    it minus Kinesis' approximate arrival time), exactly what the lag metrics
    measure, but per record instead of per batch.
    """
    table = load_if_exists(catalog, RAW_EVENTS.name)
    if table is None:
        return set()
    row_filter = And(
        EqualTo("source", "kinesis"),
        And(GreaterThanOrEqual("ingested_at", start.isoformat()), LessThanOrEqual("ingested_at", end.isoformat())),
    )
    rows = table.scan(row_filter=row_filter, selected_fields=("event_date", "arrival_ts", "ingested_at")).to_arrow()
    if rows.num_rows == 0:
        return set()
    valid = pc.is_valid(rows["arrival_ts"])
    rows = rows.filter(valid)
    delay_us = pc.subtract(pc.cast(rows["ingested_at"], "int64"), pc.cast(rows["arrival_ts"], "int64"))
    late = rows.filter(pc.greater_equal(delay_us, min_delay_ms * 1000))
    return set(pc.unique(late["event_date"]).to_pylist())
