"""Redeliveries found in streaming state: the marking rule, and the real query across a restart."""

from __future__ import annotations

from collections import Counter

from datetime import datetime, timedelta

from authpulse_dagster.aws import aws_client
from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.live.dedup_state import CONFLICT, DUPLICATE, FIRST, REDELIVERED, ROCKSDB, mark_redeliveries
from authpulse_dagster.live.stream_job import drain, start_query
from tests.live.kinesis_rows import put_all, records_for


ROW_DDL = ("event_id string, payload binary, format string, source_file string, line_number long, "
           "arrival_ts timestamp, shard_id string, sequence_number string")


def _rows(*payloads_and_formats, start: int = 0, places=None, event_id: str = "e1") -> list[tuple]:
    """Rows of one event id as the operator sees them: arriving a second apart, in order."""
    places = places or [(None, None)] * len(payloads_and_formats)
    return [
        (event_id, p, f, file, line, datetime(2024, 1, 1) + timedelta(seconds=start + i), "s0", f"{start + i:05d}")
        for i, ((p, f), (file, line)) in enumerate(zip(payloads_and_formats, places))
    ]


def _marks(spark, rows: list[tuple]) -> list[str]:
    """The marks of a static batch, in the rows' order (the operator keeps every row)."""
    df = spark.createDataFrame(rows, ROW_DDL)
    out = mark_redeliveries(df, ttl_hours=24).collect()
    by_seq = {r["sequence_number"]: r["delivery"] for r in out}
    assert len(out) == len(rows)
    return [by_seq[r[-1]] for r in rows]


def test_the_first_copy_is_kept_identical_copies_are_redeliveries_different_bytes_conflict(spark):
    rows = _rows((b"1,U1,C1", "lanl2014"), (b"1,U1,C1", "lanl2014"), (b"1,U1,C2", "lanl2014"))
    assert _marks(spark, rows) == [FIRST, REDELIVERED, CONFLICT]


def test_a_line_the_source_repeats_is_a_duplicate_and_a_retry_of_either_copy_a_redelivery(spark):
    rows = _rows((b"", "lanl2014"), (b"", "lanl2014"), (b"", "lanl2014"), places=[("auth.txt", 7), ("auth.txt", 9), ("auth.txt", 7)])
    assert _marks(spark, rows) == [FIRST, DUPLICATE, REDELIVERED]


def test_arrival_order_decides_which_copy_is_first(spark):
    late, first = _rows((b"late copy", "lanl2014"), (b"1,U1,C1", "lanl2014"))
    late = (*late[:5], first[5] + timedelta(seconds=5), *late[6:])
    assert _marks(spark, [late, first]) == [CONFLICT, FIRST]


def test_records_that_are_not_events_are_never_deduplicated_or_remembered(spark):
    assert _marks(spark, _rows((b"junk", "bad_record"), (b"junk", "bad_record"))) == [FIRST, FIRST]


def test_the_state_carries_an_id_s_first_copy_and_places_into_later_batches(spark, tmp_path):
    """A real streaming query (file source, RocksDB state): batch 2 is judged against batch 1's state."""
    from pyspark.sql.types import _parse_datatype_string

    incoming, staging, checkpoint = tmp_path / "in", tmp_path / "staging", tmp_path / "checkpoint"
    incoming.mkdir()

    def land(rows: list[tuple], name: str) -> None:
        # Written aside and moved in with one rename: the running query lists the folder all the time,
        # and a write's files appear one by one, so it could take a batch's rows as two batches.
        spark.createDataFrame(rows, ROW_DDL).write.parquet(str(staging / name))
        (staging / name).rename(incoming / name)

    seen: list[dict] = []
    spark.conf.set("spark.sql.streaming.stateStore.providerClass", ROCKSDB)
    # As the job runs it: timeouts would otherwise run a batch per trigger and processAllAvailable never returns.
    spark.conf.set("spark.sql.streaming.noDataMicroBatches.enabled", "false")
    stream = spark.readStream.schema(_parse_datatype_string(ROW_DDL)).option("recursiveFileLookup", "true").parquet(str(incoming))
    query = (mark_redeliveries(stream, ttl_hours=24).writeStream.option("checkpointLocation", str(checkpoint))
             .foreachBatch(lambda df, _: seen.extend(r.asDict() for r in df.collect())).start())
    try:
        first = _rows((b"", "lanl2014"), (b"", "lanl2014"), places=[("auth.txt", 7), ("auth.txt", 9)])
        land(first, "1")
        query.processAllAvailable()
        assert [r["delivery"] for r in sorted(seen, key=lambda r: r["sequence_number"])] == [FIRST, DUPLICATE]
        seen.clear()
        # A retry of line 9, a third line with the same bytes, other bytes under the same id.
        later = _rows((b"", "lanl2014"), (b"", "lanl2014"), (b"x", "lanl2014"), start=10,
                      places=[("auth.txt", 9), ("auth.txt", 12), ("auth.txt", 13)])
        land(later, "2")
        query.processAllAvailable()
        assert [r["delivery"] for r in sorted(seen, key=lambda r: r["sequence_number"])] == [REDELIVERED, DUPLICATE, CONFLICT]
    finally:
        query.stop()


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
    query, first = start_query(spark, settings, checkpoint, trigger_seconds=0, max_records=100, publish_metrics=False,
                                 refresh_seconds=3600)  # gold once, at the drain's end: the state is the subject
    drain(query, first)
    assert query.exception() is None
    assert sum(r.records for r in first.history) == len(rows), (list(first.history), query.recentProgress[-2:])
    # Each batch reports the state store as the batch before left it (what the metrics publish).
    assert len(first.history) >= 2 and first.history[0].state_rows is None
    assert all(r.state_rows > 0 and r.state_bytes > 0 for r in list(first.history)[1:]), list(first.history)
    assert all(r.records_per_second > 0 for r in first.history)
    catalog = load_catalog(settings)
    silver = catalog.load_table("authpulse.auth_events").scan().to_arrow()
    quarantined = catalog.load_table("authpulse.quarantine").scan().to_arrow().num_rows
    assert silver.num_rows > 100 and silver.num_rows + quarantined == len(rows)
    assert sum(r.redelivered for r in first.history) == 0

    copies = rows[: len(rows) // 3]
    put_all(kinesis, settings.stream_name, copies)
    query, second = start_query(spark, settings, checkpoint, trigger_seconds=0, max_records=500, publish_metrics=False,
                                  refresh_seconds=3600)
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
