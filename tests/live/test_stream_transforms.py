"""Kinesis rows → bronze rows, and the per-shard watermark."""

import json
from datetime import datetime, timedelta, timezone

from authpulse_dagster.live.stream_transforms import bronze_from_kinesis, split_late, watermark_from
from tests.live.kinesis_rows import ARRIVAL, SOURCE_DDL

T = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)


def test_records_become_bronze_rows_and_bad_records_are_kept_whole(spark):
    good = {"schema": "authpulse.lanl.v1", "event_id": "abc", "format": "lanl2014", "line": "5,U1,C1", "line_b64": None,
            "payload_size": 7, "truncated": False, "fields": ["5", "U1", "C1"], "dataset_time": 5,
            "event_date": "2024-01-01", "source_file": "f", "line_number": 3, "replay_time": "2026-11-01T00:00:00Z"}
    binary = {**good, "event_id": "def", "line": None, "line_b64": "//4sVTEsQzE=", "fields": [], "line_number": 4}
    rows = [
        (json.dumps(good).encode(), "s", "U1", "shardId-0", "1", ARRIVAL, 0),
        (json.dumps(binary).encode(), "s", "U1", "shardId-0", "2", ARRIVAL, 0),
        (b"not json at all", "s", "x", "shardId-1", "7", ARRIVAL, 0),
    ]
    out = {r["event_id"]: r for r in bronze_from_kinesis(spark.createDataFrame(rows, SOURCE_DDL), T).collect()}
    assert bytes(out["abc"]["payload"]) == b"5,U1,C1" and out["abc"]["line_number"] == 3
    assert bytes(out["def"]["payload"]) == b"\xff\xfe,U1,C1"
    bad = out["kinesis:shardId-1:7"]
    assert bytes(bad["payload"]) == b"not json at all" and bad["format"] == "bad_record"
    assert str(bad["event_date"]) == "2026-11-01"  # filed under its arrival day
    assert {r["source"] for r in out.values()} == {"kinesis"}


def test_watermark_is_the_slowest_active_shard_minus_five_minutes():
    assert watermark_from({}) is None
    marks = {"a": T, "b": T - timedelta(minutes=20), "closed": T - timedelta(days=3)}
    assert watermark_from(marks) == T - timedelta(minutes=25)


def test_split_late(spark):
    df = spark.createDataFrame([("a", T), ("b", T - timedelta(minutes=10))], "event_id string, event_ts timestamp")
    on_time, late = split_late(df, T - timedelta(minutes=5))
    assert [r["event_id"] for r in on_time.collect()] == ["a"]
    assert [r["event_id"] for r in late.collect()] == ["b"]
    assert split_late(df, None)[0].count() == 2
