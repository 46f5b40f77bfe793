"""Exactly-once appends through Spark's Iceberg writer: a replayed batch id is skipped, table by table."""

from datetime import date, datetime, timezone

from authpulse_dagster.lakehouse import spark_tables
from authpulse_dagster.lakehouse.schemas import LATE_EVENTS
from authpulse_dagster.live.sink import ALREADY, WRITTEN, append_once, last_committed_batch, summary_before

TS = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _rows(spark, n, start=0):
    rows = [{"event_id": f"e{i}", "event_date": date(2024, 1, 1), "event_ts": TS, "watermark": TS, "batch_id": 0, "arrival_ts": TS}
            for i in range(start, start + n)]
    return spark_tables.dataframe(spark, LATE_EVENTS, rows)


def _count(spark):
    return spark_tables.read_all(spark, LATE_EVENTS).count()


def test_a_replayed_batch_is_skipped(settings, spark):
    assert append_once(_rows(spark, 3), LATE_EVENTS, "s1", 0) == (WRITTEN, 3)
    assert append_once(_rows(spark, 3), LATE_EVENTS, "s1", 0) == (ALREADY, 0)  # Spark replays batch 0 after a crash
    assert append_once(_rows(spark, 2, 3), LATE_EVENTS, "s1", 1) == (WRITTEN, 2)
    assert append_once(_rows(spark, 0), LATE_EVENTS, "s1", 2)[1] == 0
    assert _count(spark) == 5
    assert last_committed_batch(spark, LATE_EVENTS, "s1") in (1, 2)


def test_streams_do_not_see_each_others_batches(settings, spark):
    append_once(_rows(spark, 1), LATE_EVENTS, "s1", 5)
    assert last_committed_batch(spark, LATE_EVENTS, "s2") is None
    assert append_once(_rows(spark, 1, 1), LATE_EVENTS, "s2", 0) == (WRITTEN, 1)


def test_state_as_of_before_a_batch(settings, spark):
    append_once(_rows(spark, 1), LATE_EVENTS, "s1", 0, {"k": "a"})
    append_once(_rows(spark, 1, 1), LATE_EVENTS, "s1", 1, {"k": "b"})
    assert summary_before(spark, LATE_EVENTS, "s1", 1)["k"] == "a"
    assert summary_before(spark, LATE_EVENTS, "s1", 0) is None
