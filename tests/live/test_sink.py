"""Exactly-once appends: a replayed batch id is skipped, table by table."""

import pyarrow as pa

from authpulse_dagster.lakehouse.schemas import LATE_EVENTS
from authpulse_dagster.lakehouse.tables import ensure_table
from authpulse_dagster.live.sink import ALREADY, NOTHING, WRITTEN, append_once, last_committed_batch, summary_before


def _rows(n, start=0):
    from datetime import date, datetime, timezone

    ts = datetime(2024, 1, 1, tzinfo=timezone.utc)
    return pa.table({
        "event_id": [f"e{i}" for i in range(start, start + n)],
        "event_date": pa.array([date(2024, 1, 1)] * n, pa.date32()),
        "event_ts": pa.array([ts] * n, pa.timestamp("us", tz="UTC")),
        "watermark": pa.array([ts] * n, pa.timestamp("us", tz="UTC")),
        "batch_id": pa.array([0] * n, pa.int64()),
        "arrival_ts": pa.array([ts] * n, pa.timestamp("us", tz="UTC")),
    })


def test_a_replayed_batch_is_skipped(catalog):
    table = ensure_table(catalog, LATE_EVENTS)
    assert append_once(table, _rows(3), "s1", 0) == WRITTEN
    assert append_once(table, _rows(3), "s1", 0) == ALREADY  # Spark replays batch 0 after a crash
    assert append_once(table, _rows(2, 3), "s1", 1) == WRITTEN
    assert append_once(table, _rows(0), "s1", 2) == NOTHING
    assert table.scan().to_arrow().num_rows == 5
    assert last_committed_batch(table, "s1") == 1


def test_streams_do_not_see_each_others_batches(catalog):
    table = ensure_table(catalog, LATE_EVENTS)
    append_once(table, _rows(1), "s1", 5)
    assert last_committed_batch(table, "s2") is None
    assert append_once(table, _rows(1, 1), "s2", 0) == WRITTEN


def test_state_as_of_before_a_batch(catalog):
    table = ensure_table(catalog, LATE_EVENTS)
    append_once(table, _rows(1), "s1", 0, {"k": "a"})
    append_once(table, _rows(1, 1), "s1", 1, {"k": "b"})
    assert summary_before(table, "s1", 1)["k"] == "a"
    assert summary_before(table, "s1", 2)["k"] == "b"
    assert summary_before(table, "s1", 0) is None
