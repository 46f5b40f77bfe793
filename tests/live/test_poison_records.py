"""Poison records against the real streaming job: the job keeps running, nothing vanishes.

Each poison record rides among good ones. The good ones must reach silver,
the poison one must be in bronze and in the quarantine with a reason, and the
next batch must run. The first tests drive the job's micro-batch function
(``BatchProcessor``) directly; the last one runs the streaming query itself
over the session's moto Kinesis, as ``authpulse stream start`` does.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import date

import pytest

from authpulse_dagster.aws import aws_client
from authpulse_dagster.lanl.event_id import event_id
from authpulse_dagster.live.stream_job import BatchProcessor, drain, start_query, status_path
from tests.live.kinesis_rows import ARRIVAL, as_batch


def v1(line: bytes, **overrides) -> bytes:
    """A record as the replay producer writes it, then spoiled by ``overrides``."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    rec = {"schema": "authpulse.lanl.v1", "event_id": event_id(line, 0), "format": "lanl2014", "line": text,
           "line_b64": None if text is not None else base64.b64encode(line).decode(), "payload_size": len(line),
           "truncated": False, "fields": text.split(",") if text else [], "dataset_time": None,
           "event_date": "2024-01-01", "source_file": "f.txt", "line_number": 1, "replay_time": "2026-11-01T00:00:00Z"}
    rec.update(overrides)
    return json.dumps(rec).encode()


# (a)-(e) of the issue, plus a record carrying an existing event id with another line.
POISON = {
    "non_utf8": (b"\xff\xfe not json", "bad_record"),
    "event_date_not_a_date": (v1(b"x1,U1,C1", event_date="not-a-date"), "time_not_integer"),
    "payload_size_abc": (v1(b"31,U1,C1", payload_size="abc"), "bad_record"),
    "invalid_base64": (v1(b"\xff,U1,C1", line_b64="%%%not base64%%%"), "bad_record"),
    "time_13_digits": (v1(b"9300000000000,U1,C1"), "time_out_of_range"),
    "existing_id_other_line": (v1(b"40,U5,C5", event_id=event_id(b"10,U1,C1", 0)), "event_id_conflict"),
}
GOOD = [b"10,U1,C1", b"20,U2,C2", b"86450,U3,C3"]


def _rows(data: list[bytes], first_seq: int = 1) -> list[tuple]:
    return [(d, "s", "k", "shardId-000000000000", f"{first_seq + i:056d}", ARRIVAL, 0) for i, d in enumerate(data)]


def _table(catalog, name):
    return catalog.load_table(f"authpulse.{name}").scan().to_arrow()


def test_every_poison_record_in_one_batch_fails_nothing(settings, catalog, spark):
    # No gold refresh: poison stops before silver, and gold and risk are built from silver alone.
    processor = BatchProcessor(settings, "poison", "s", publish_metrics=False, refresh_seconds=3600)
    good = [v1(line) for line in GOOD]
    poison = [data for data, _ in POISON.values()]
    processor(as_batch(spark, _rows(good[:1] + poison + good[1:]), settings), 0)
    # The next batch runs too: the job is not stuck on the poison.
    processor(as_batch(spark, _rows([v1(b"86460,U4,C4")], first_seq=100), settings), 1)

    bronze = _table(catalog, "raw_events")
    assert bronze.num_rows == len(good) + len(poison) + 1
    silver = _table(catalog, "auth_events")
    assert sorted(silver["user_id"].to_pylist()) == ["U1", "U2", "U3", "U4"]
    quarantine = _table(catalog, "quarantine")
    assert Counter(quarantine["reason"].to_pylist()) == Counter(reason for _, reason in POISON.values())
    # The id of the conflicting record still belongs to its first owner, once.
    assert silver["event_id"].to_pylist().count(event_id(b"10,U1,C1", 0)) == 1
    # Days follow the lines' own times: 86450 s is the second day, in bronze and silver alike.
    by_day = Counter(bronze.filter(bronze["source_file"].is_valid())["event_date"].to_pylist())
    assert by_day[date(2024, 1, 2)] == 2
    status = json.loads(status_path(settings).read_text())
    assert status["state"] == "running" and status["batch_id"] == 1 and status["quarantined"] == 0


def test_a_batch_failing_for_another_reason_says_failed_in_the_status(settings, spark, monkeypatch):
    processor = BatchProcessor(settings, "broken", "s", publish_metrics=False)

    def broken(records, batch_id):
        raise OSError("No space left on device\n\tat org.apache.iceberg.SomeWriter(SomeWriter.java:1)")

    monkeypatch.setattr(processor, "process", broken)
    with pytest.raises(OSError):
        processor(as_batch(spark, _rows([v1(GOOD[0])]), settings), 7)
    status = json.loads(status_path(settings).read_text())
    assert status["state"] == "failed" and status["failed_batch_id"] == 7
    assert status["error"] == "OSError: No space left on device"


@pytest.mark.slow
def test_poison_records_through_kinesis_and_the_streaming_query(aws_env, aws_resources, spark, tmp_path):
    settings = aws_env
    kinesis = aws_client("kinesis", settings)
    good = [v1(b"%d,U%d,C%d" % (10 + i, i, i)) for i in range(20)]
    poison = [data for data, _ in POISON.values()]
    records = good[:10] + poison + good[10:]
    for i, data in enumerate(records):
        kinesis.put_record(StreamName=settings.stream_name, Data=data, PartitionKey=f"k{i % 3}")

    query, processor = start_query(spark, settings, str(tmp_path / "checkpoint"), trigger_seconds=0, max_records=1000,
                                   publish_metrics=False, refresh_seconds=3600)
    drain(query)
    assert query.exception() is None
    from authpulse_dagster.lakehouse.catalog import load_catalog

    catalog = load_catalog(settings)
    assert _table(catalog, "raw_events").num_rows == len(records)
    assert _table(catalog, "auth_events").num_rows == len(good)
    reasons = Counter(_table(catalog, "quarantine")["reason"].to_pylist())
    assert reasons == Counter(reason for _, reason in POISON.values())
    assert sum(r.records for r in processor.history) == len(records)
