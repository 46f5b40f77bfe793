"""Fuzzing the line parser and the stream record decoder: whatever the bytes, nothing escapes and nothing vanishes.

Hypothesis draws files (lists of lines: random bytes, and near-valid lines of
both formats with damaged fields) and Kinesis records (random bytes, and
schema-v1 JSON with damaged fields). For every draw, on real Spark: no
exception; every input becomes exactly one parsed row; parsed = valid +
quarantined; deduplication removes only copies byte-identical to the one it
keeps. A fixed seed (``derandomize``) keeps CI reproducible; the examples still
cover what no hand-written case does.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings, strategies as st

from authpulse_dagster.lanl.event_id import EventIdAssigner
from authpulse_dagster.live.stream_transforms import bronze_from_kinesis
from authpulse_dagster.transforms.silver import deduplicate, quarantine_rows, valid_events
from authpulse_dagster.transforms.validation import ParseOptions, parse_records
from tests.transforms.helpers import BRONZE_DDL, INGESTED

OPTS = ParseOptions(epoch=datetime(2024, 1, 1, tzinfo=timezone.utc), max_line_bytes=256, max_dataset_seconds=30 * 86400)
FUZZ = settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

_time = st.one_of(st.integers(-5, 40 * 86400), st.integers(2**40, 2**70), st.sampled_from(["", " 5", "1e3", "0x10", "٣"]))
_name = st.one_of(st.from_regex(r"[UC][0-9]{1,4}", fullmatch=True), st.text(max_size=6))


def _line(fmt: str) -> st.SearchStrategy[bytes]:
    if fmt == "lanl2014":
        near = st.tuples(_time, _name, _name).map(lambda t: ",".join(map(str, t)))
    else:
        near = st.tuples(_time, _name, _name, _name, _name, st.sampled_from(["Kerberos", "?", ""]),
                         st.sampled_from(["Network", ""]), st.sampled_from(["LogOn", "LogOff"]),
                         st.sampled_from(["Success", "Fail", "Maybe", ""])).map(
            lambda t: ",".join([str(t[0]), f"{t[1]}@DOM1", f"{t[2]}@DOM1", *map(str, t[3:])]))
    raw = st.binary(max_size=120).map(lambda b: b.replace(b"\n", b""))
    return st.one_of(near.map(lambda s: s.encode("utf-8", "surrogatepass")), raw)


def _file(fmt: str) -> st.SearchStrategy[list[bytes]]:
    # Repeats on purpose: identical lines are where deduplication could drop something it must not.
    return st.lists(_line(fmt), min_size=1, max_size=40).flatmap(
        lambda lines: st.lists(st.sampled_from(lines), max_size=10).map(lambda extra: lines + extra))


def _bronze(spark, lines: list[bytes], fmt: str):
    ids, _ = EventIdAssigner().assign_many(lines)
    rows = [(ids[i], line, len(line), "file", fmt, "f.txt", i + 1, None, None, None, None, None, INGESTED)
            for i, line in enumerate(lines)]
    return spark.createDataFrame(rows, BRONZE_DDL)


def _check_conservation(spark, lines: list[bytes], fmt: str) -> None:
    parsed = parse_records(_bronze(spark, lines, fmt), OPTS).cache()
    rows = parsed.select("line_number", "reason", "event_id", "payload").collect()
    assert sorted(r["line_number"] for r in rows) == list(range(1, len(lines) + 1))  # one row per line
    valid = [r for r in rows if r["reason"] is None]
    assert quarantine_rows(parsed).count() + len(valid) == len(lines)
    kept = deduplicate(valid_events(parsed)).select("event_id").collect()
    by_id: dict[str, set[bytes]] = {}
    for r in valid:
        by_id.setdefault(r["event_id"], set()).add(bytes(r["payload"]))
    # Every removed row was a byte-identical copy of a kept one: one id, one payload.
    assert sorted(r["event_id"] for r in kept) == sorted(by_id)
    assert all(len(p) == 1 for p in by_id.values())
    parsed.unpersist()


@FUZZ
@given(lines=_file("lanl2014"))
def test_any_lanl2014_file_is_parsed_without_loss(spark, lines):
    _check_conservation(spark, lines, "lanl2014")


@FUZZ
@given(lines=_file("lanl2015"))
def test_any_lanl2015_file_is_parsed_without_loss(spark, lines):
    _check_conservation(spark, lines, "lanl2015")


_v1 = st.fixed_dictionaries(
    {"schema": st.sampled_from(["authpulse.lanl.v1", "v0"]), "event_id": st.text(max_size=40),
     "format": st.sampled_from(["lanl2014", "lanl2015", "x"]),
     "line": st.one_of(st.text(max_size=60), st.integers()), "payload_size": st.one_of(st.integers(-1, 10**20), st.text(max_size=4)),
     "event_date": st.one_of(st.sampled_from(["2024-01-01", "not-a-date", "99999-01-01"]), st.integers()),
     "dataset_time": st.one_of(st.integers(-(2**70), 2**70), st.none())},
    optional={"line_b64": st.text(max_size=20), "source_file": st.text(max_size=10), "line_number": st.integers()},
).map(lambda d: json.dumps(d).encode())
_record = st.one_of(_v1, st.binary(max_size=200))


@FUZZ
@given(records=st.lists(_record, min_size=1, max_size=30))
def test_any_stream_record_lands_in_bronze_once(spark, records):
    arrival = datetime(2024, 1, 2, tzinfo=timezone.utc)
    source = spark.createDataFrame(
        [(r, "s", "k", "shardId-000000000000", f"{i:056d}", arrival, 0) for i, r in enumerate(records)],
        "data binary, stream_name string, partition_key string, shard_id string, sequence_number string, "
        "approximate_arrival_timestamp timestamp, millis_behind_latest long",
    )
    bronze = bronze_from_kinesis(source, INGESTED, OPTS).cache()
    assert bronze.count() == len(records)
    parsed = parse_records(bronze, OPTS)
    assert parsed.count() == len(records)  # each one is a silver candidate or a quarantine row, none an error
    assert quarantine_rows(parsed).count() + valid_events(parsed).count() == len(records)
    bronze.unpersist()
