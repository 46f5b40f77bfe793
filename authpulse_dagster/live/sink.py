"""Exactly-once appends from a streaming job into Iceberg.

Every commit a stream makes carries its stream id and micro-batch id in the
snapshot summary. Before appending batch B to a table, the sink looks for
that stream's newest commit on the table: if it is B or later, the batch was
already written (Spark is replaying it after a crash) and is skipped. Spark
replays a batch with exactly the same records, so "skip if present" gives
exactly-once per table whatever point the job was killed at.
"""

from __future__ import annotations

from typing import Mapping

import pyarrow as pa
from pyiceberg.table import Snapshot, Table

from authpulse_dagster.lakehouse.tables import conform

STREAM_ID = "authpulse.stream_id"
BATCH_ID = "authpulse.stream_batch_id"
# Snapshots to look back through for a stream's last commit (batch commits of other assets interleave).
MAX_LOOKBACK = 2000


def _stream_snapshots(table: Table, stream_id: str):
    snapshot: Snapshot | None = table.current_snapshot()
    seen = 0
    while snapshot is not None and seen < MAX_LOOKBACK:
        summary = snapshot.summary.additional_properties if snapshot.summary else {}
        if summary.get(STREAM_ID) == stream_id:
            yield int(summary[BATCH_ID]), dict(summary)
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
        seen += 1


def last_committed_batch(table: Table, stream_id: str) -> int | None:
    for batch_id, _ in _stream_snapshots(table, stream_id):
        return batch_id
    return None


def summary_before(table: Table, stream_id: str, batch_id: int) -> dict[str, str] | None:
    """The stream's newest commit summary from a batch before ``batch_id`` (state as the batch began)."""
    for committed, summary in _stream_snapshots(table, stream_id):
        if committed < batch_id:
            return summary
    return None


WRITTEN, NOTHING, ALREADY = "written", "nothing to write", "already committed"


def append_once(
    table: Table, data: pa.Table, stream_id: str, batch_id: int, properties: Mapping[str, object] | None = None
) -> str:
    """Append ``data`` as batch ``batch_id`` unless that batch is already in the table.

    Returns ``WRITTEN``, ``NOTHING`` (no rows and no state to record) or
    ``ALREADY`` (a replayed batch, skipped).
    """
    table.refresh()
    last = last_committed_batch(table, stream_id)
    if last is not None and last >= batch_id:
        return ALREADY
    if data.num_rows == 0 and not properties:
        return NOTHING
    props = {STREAM_ID: stream_id, BATCH_ID: str(batch_id), **{k: str(v) for k, v in (properties or {}).items()}}
    table.append(conform(table, data), snapshot_properties=props)
    return WRITTEN
