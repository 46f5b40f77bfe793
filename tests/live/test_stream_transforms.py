"""Kinesis rows → bronze rows, and the per-shard watermark."""

import base64
import json
from datetime import date, datetime, timedelta, timezone

import pytest

from authpulse_dagster.lanl.event_id import event_id
from authpulse_dagster.live.stream_transforms import bronze_from_kinesis, split_late, watermark_from
from authpulse_dagster.transforms.silver import parse
from authpulse_dagster.transforms.validation import ParseOptions
from tests.live.kinesis_rows import ARRIVAL, SOURCE_DDL

T = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
OPTS = ParseOptions(epoch=datetime(2024, 1, 1, tzinfo=timezone.utc))


def v1(line: bytes, **overrides) -> dict:
    """A record as the replay producer sends it (the id is the line's own)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    rec = {"schema": "authpulse.lanl.v1", "event_id": event_id(line, 0), "format": "lanl2014", "line": text,
           "line_b64": None if text is not None else base64.b64encode(line).decode(), "payload_size": len(line),
           "truncated": False, "fields": text.split(",") if text else [], "dataset_time": None,
           "event_date": "2024-01-01", "source_file": "f", "line_number": 1, "replay_time": "2026-11-01T00:00:00Z"}
    rec.update(overrides)
    return rec


def bronze_of(spark, datas: list[bytes]) -> dict:
    rows = [(d, "s", "k", "shardId-0", str(i + 1), ARRIVAL, 0) for i, d in enumerate(datas)]
    return {int(r["sequence_number"]): r for r in bronze_from_kinesis(spark.createDataFrame(rows, SOURCE_DDL), T, OPTS).collect()}


def test_records_become_bronze_rows_and_bad_records_are_kept_whole(spark):
    good = v1(b"5,U1,C1", line_number=3)
    binary = v1(b"\xff\xfe,U1,C1", line_number=4)
    rows = [
        (json.dumps(good).encode(), "s", "U1", "shardId-0", "1", ARRIVAL, 0),
        (json.dumps(binary).encode(), "s", "U1", "shardId-0", "2", ARRIVAL, 0),
        (b"not json at all", "s", "x", "shardId-1", "7", ARRIVAL, 0),
    ]
    out = {r["event_id"]: r for r in bronze_from_kinesis(spark.createDataFrame(rows, SOURCE_DDL), T, OPTS).collect()}
    assert bytes(out[good["event_id"]]["payload"]) == b"5,U1,C1" and out[good["event_id"]]["line_number"] == 3
    assert bytes(out[binary["event_id"]]["payload"]) == b"\xff\xfe,U1,C1"
    bad = out["kinesis:shardId-1:7"]
    assert bytes(bad["payload"]) == b"not json at all" and bad["format"] == "bad_record"
    assert str(bad["event_date"]) == "2026-11-01"  # filed under its arrival day
    assert {r["source"] for r in out.values()} == {"kinesis"}


POISON = {
    "non_utf8_bytes": (b"\xff\xfe not json", "bad_record"),
    "event_date_not_a_date": (json.dumps(v1(b"x,U1,C1", event_date="not-a-date")).encode(), "time_not_integer"),
    "payload_size_not_a_number": (json.dumps(v1(b"5,U1,C1", payload_size="abc")).encode(), "bad_record"),
    "line_b64_not_base64": (json.dumps(v1(b"\xff,U1,C1", line_b64="!!!*not base64*")).encode(), "bad_record"),
    "time_with_13_digits": (json.dumps(v1(b"9300000000000,U1,C1")).encode(), "time_out_of_range"),
    "id_of_another_line": (json.dumps(v1(b"6,U9,C9", event_id=event_id(b"5,U1,C1", 0))).encode(), "event_id_conflict"),
    "format_missing": (json.dumps(v1(b"5,U1,C1", format=None)).encode(), "bad_record"),
    "not_an_object": (b"[1, 2, 3]", "bad_record"),
}


@pytest.mark.parametrize("case", sorted(POISON))
def test_a_poison_record_lands_in_bronze_and_quarantine(spark, case):
    data, reason = POISON[case]
    good = json.dumps(v1(b"7,U2,C2")).encode()
    bronze = spark.createDataFrame([(d, "s", "k", "shardId-0", str(i + 1), ARRIVAL, 0) for i, d in enumerate([good, data])], SOURCE_DDL)
    landed = bronze_from_kinesis(bronze, T, OPTS)
    # Arrow is what the writers take: every value must convert, required columns must be set.
    arrow = landed.toArrow()
    assert arrow.num_rows == 2
    for column in ("event_id", "payload", "payload_size", "source", "format", "event_date", "ingested_at"):
        assert arrow[column].null_count == 0, column
    parsed = {r["sequence_number"]: r for r in parse(landed, OPTS).collect()}
    assert parsed["1"]["reason"] is None
    assert parsed["2"]["reason"] == reason


def test_the_time_decides_the_day_not_the_records_event_date(spark):
    out = bronze_of(spark, [json.dumps(v1(b"90000,U1,C1", event_date="2030-05-05")).encode(),
                            json.dumps(v1(b"garbage", event_date="2024-01-03")).encode(),
                            json.dumps(v1(b"garbage", event_date="nope", event_id=event_id(b"garbage", 1))).encode()])
    assert out[1]["event_date"] == date(2024, 1, 2) and out[1]["dataset_time"] == 90000
    assert out[2]["event_date"] == date(2024, 1, 3)  # no valid time: the producer's day stands
    assert out[3]["event_date"] == ARRIVAL.date()  # nor a valid day: the arrival day


def test_payload_size_cannot_be_smaller_than_the_line(spark):
    out = bronze_of(spark, [json.dumps(v1(b"5,U1," + b"C" * 3000, payload_size=1)).encode()])
    assert out[1]["payload_size"] == 3005


def test_a_repeated_line_keeps_its_occurrence_id(spark):
    out = bronze_of(spark, [json.dumps(v1(b"5,U1,C1", event_id=event_id(b"5,U1,C1", 3))).encode()])
    assert out[1]["event_id"] == event_id(b"5,U1,C1", 3) and out[1]["format"] == "lanl2014"


def test_watermark_is_the_slowest_active_shard_minus_five_minutes():
    assert watermark_from({}) is None
    marks = {"a": T, "b": T - timedelta(minutes=20), "closed": T - timedelta(days=3)}
    assert watermark_from(marks) == T - timedelta(minutes=25)
    # A shard with records in this batch is not idle, however far behind: its backlog is not late.
    assert watermark_from(marks, delivering=["closed"]) == T - timedelta(days=3, minutes=5)


def test_split_late(spark):
    df = spark.createDataFrame([("a", T), ("b", T - timedelta(minutes=10))], "event_id string, event_ts timestamp")
    on_time, late = split_late(df, T - timedelta(minutes=5))
    assert [r["event_id"] for r in on_time.collect()] == ["a"]
    assert [r["event_id"] for r in late.collect()] == ["b"]
    assert split_late(df, None)[0].count() == 2
