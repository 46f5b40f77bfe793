"""Redeliveries found in streaming state: the marking rule, and the real query across a restart."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from authpulse_dagster.aws import aws_client
from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.live.dedup_state import CONFLICT, DUPLICATE, FIRST, REDELIVERED, mark_deliveries
from authpulse_dagster.live.stream_job import drain, start_query
from tests.live.kinesis_rows import put_all, records_for


def _rows(*payloads_and_formats, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"payload": p, "format": f, "arrival_ts": pd.Timestamp(1_700_000_000 + start + i, unit="s"),
             "shard_id": "s0", "sequence_number": f"{start + i:05d}"}
            for i, (p, f) in enumerate(payloads_and_formats)
        ]
    )


def test_the_first_copy_is_kept_identical_copies_are_redeliveries_different_bytes_conflict():
    marks, sha, _ = mark_deliveries(_rows((b"1,U1,C1", "lanl2014"), (b"1,U1,C1", "lanl2014"), (b"1,U1,C2", "lanl2014")), None)
    assert list(marks) == [FIRST, REDELIVERED, CONFLICT] and sha is not None
    # The state carries the first copy's bytes into the next batch.
    again, same, _ = mark_deliveries(_rows((b"1,U1,C1", "lanl2014"), start=10), sha)
    assert list(again) == [REDELIVERED] and same == sha


def test_a_line_the_source_repeats_is_a_duplicate_and_a_retry_of_either_copy_a_redelivery():
    rows = _rows((b"", "lanl2014"), (b"", "lanl2014"), (b"", "lanl2014"))
    rows["source_file"], rows["line_number"] = "auth.txt", [7, 9, 7]
    marks, sha, positions = mark_deliveries(rows, None)
    assert list(marks) == [FIRST, DUPLICATE, REDELIVERED] and positions == ["auth.txt:7", "auth.txt:9"]
    # Next batch: the retry of line 9 is recognised from state, a third line with the same bytes is not a retry.
    later = _rows((b"", "lanl2014"), (b"", "lanl2014"), start=10)
    later["source_file"], later["line_number"] = "auth.txt", [9, 12]
    again, _, kept = mark_deliveries(later, sha, positions)
    assert list(again) == [REDELIVERED, DUPLICATE] and kept[-1] == "auth.txt:12"


def test_arrival_order_decides_which_copy_is_first():
    rows = _rows((b"late copy", "lanl2014"), (b"1,U1,C1", "lanl2014"))
    rows.loc[0, "arrival_ts"] = rows.loc[1, "arrival_ts"] + pd.Timedelta(seconds=5)
    marks, _, _ = mark_deliveries(rows, None)
    assert list(marks) == [CONFLICT, FIRST]


def test_records_that_are_not_events_are_never_deduplicated_or_remembered():
    marks, sha, _ = mark_deliveries(_rows((b"junk", "bad_record"), (b"junk", "bad_record")), None)
    assert list(marks) == [FIRST, FIRST] and sha is None


def test_a_redelivery_after_a_restart_is_found_in_the_checkpointed_state(aws_env, aws_resources, spark, tmp_path):
    """Two runs of the real query on one checkpoint (moto Kinesis): the second run gets copies of
    records the first one kept; silver does not grow, bronze holds every delivery."""
    from authpulse_dagster.lanl.generator import generate

    settings = aws_env
    path = tmp_path / "in.txt"
    generate(path, users=8, computers=10, days=1, seed=5, events_per_user_day=30, progress=False)
    rows = records_for(path, "lanl2014", settings)
    kinesis = aws_client("kinesis", settings)
    checkpoint = str(tmp_path / "checkpoint")

    put_all(kinesis, settings.stream_name, rows)
    query, first = start_query(spark, settings, checkpoint, trigger_seconds=0, max_records=500, publish_metrics=False)
    drain(query, first)
    assert query.exception() is None
    assert sum(r.records for r in first.history) == len(rows), (list(first.history), query.recentProgress[-2:])
    catalog = load_catalog(settings)
    silver = catalog.load_table("authpulse.auth_events").scan().to_arrow()
    quarantined = catalog.load_table("authpulse.quarantine").scan().to_arrow().num_rows
    assert silver.num_rows > 100 and silver.num_rows + quarantined == len(rows)
    assert sum(r.redelivered for r in first.history) == 0

    copies = rows[: len(rows) // 3]
    put_all(kinesis, settings.stream_name, copies)
    query, second = start_query(spark, settings, checkpoint, trigger_seconds=0, max_records=500, publish_metrics=False)
    drain(query, second)
    assert query.exception() is None
    assert sum(r.records for r in second.history) == len(copies)
    assert sum(r.redelivered for r in second.history) == len(copies)
    catalog = load_catalog(settings)
    after = catalog.load_table("authpulse.auth_events").scan().to_arrow()
    assert after.num_rows == silver.num_rows
    assert Counter(after["event_id"].to_pylist()).most_common(1)[0][1] == 1
    bronze = catalog.load_table("authpulse.raw_events").scan().to_arrow()
    assert bronze.num_rows == len(rows) + len(copies)
    assert catalog.load_table("authpulse.quarantine").scan(row_filter="reason == 'event_id_conflict'").to_arrow().num_rows == 0
    # The state lives in the checkpoint, in RocksDB.
    assert any(p.name.endswith(".zip") or "rocksdb" in str(p).lower() for p in (tmp_path / "checkpoint" / "state").rglob("*"))
