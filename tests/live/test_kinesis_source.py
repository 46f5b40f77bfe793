"""The ``kinesis`` Spark source.

Two layers. The reader against a fake Kinesis that behaves like AWS where
moto does not (a split keeps the parent's records in the parent, a closed
shard ends with a null iterator, sequence numbers are huge and sparse), with
no Spark. Then real streaming queries on local Spark against the session's
moto server over HTTP.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import pickle
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from botocore.exceptions import ClientError

from authpulse_dagster.aws import aws_client
from authpulse_dagster.errors import ConfigError
from authpulse_dagster.live.kinesis_shards import Offset
from authpulse_dagster.live.kinesis_source import (
    KinesisStreamReader,
    list_shards,
    parse_options,
)
from authpulse_dagster.settings import Settings
from tests.live.fakes import FakeTime

# ---------------------------------------------------------------------------------------------
# A fake Kinesis with AWS's semantics


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "Op")


class FakeKinesis:
    """Enough of the Kinesis API for the reader, strict where AWS is strict."""

    def __init__(self, shards: int = 2) -> None:
        self.shards: dict[str, dict[str, Any]] = {}
        self.seq = itertools.count(49590338271490256608559692538361571095921575989136588898, 7_919_113)
        self.calls: list[tuple[str, str, float]] = []
        self.clock: Callable[[], float] = time.monotonic
        self.fail_next: dict[str, list[str]] = defaultdict(list)  # shard -> error codes to raise
        for i in range(shards):
            self._new_shard((), i / shards, (i + 1) / shards)

    def _new_shard(self, parents: tuple[str, ...], lo: float = 0.0, hi: float = 1.0) -> str:
        sid = f"shardId-{len(self.shards):012d}"
        self.shards[sid] = {"records": [], "parents": parents, "closed": False, "range": (lo, hi)}
        return sid

    def open_shards(self) -> list[str]:
        return [s for s, v in self.shards.items() if not v["closed"]]

    def put(self, key: str, data: bytes) -> tuple[str, str]:
        # Like AWS: the key's hash picks the open shard whose hash range holds it.
        h = int(hashlib.md5(key.encode()).hexdigest(), 16) / 2**128
        sid = next(s for s in self.open_shards() if self.shards[s]["range"][0] <= h < self.shards[s]["range"][1])
        seq = str(next(self.seq))
        self.shards[sid]["records"].append(
            {"Data": data, "PartitionKey": key, "SequenceNumber": seq, "ApproximateArrivalTimestamp": datetime.now(timezone.utc)}
        )
        return sid, seq

    def split_all(self) -> None:
        """Each open shard becomes two children; the parent keeps its records and closes."""
        for parent in self.open_shards():
            self.shards[parent]["closed"] = True
            lo, hi = self.shards[parent]["range"]
            self._new_shard((parent,), lo, (lo + hi) / 2)
            self._new_shard((parent,), (lo + hi) / 2, hi)

    # -- API ---------------------------------------------------------------------------------

    created = datetime(2024, 1, 1, tzinfo=timezone.utc)

    def describe_stream_summary(self, StreamName: str | None = None, StreamARN: str | None = None) -> dict:
        return {"StreamDescriptionSummary": {"StreamCreationTimestamp": self.created}}

    def list_shards(self, StreamName: str | None = None, NextToken: str | None = None, MaxResults: int = 1000) -> dict:
        if StreamName and NextToken:
            raise _error("InvalidArgumentException")
        ids = sorted(self.shards)
        start = int(NextToken) if NextToken else 0
        page = ids[start : start + MaxResults]
        out: dict[str, Any] = {"Shards": [self._describe(s) for s in page]}
        if start + MaxResults < len(ids):
            out["NextToken"] = str(start + MaxResults)
        return out

    def _describe(self, sid: str) -> dict:
        shard = self.shards[sid]
        rng = {"StartingSequenceNumber": "1"}
        if shard["closed"]:
            rng["EndingSequenceNumber"] = "9" * 56
        out = {"ShardId": sid, "HashKeyRange": {}, "SequenceNumberRange": rng}
        for name, parent in zip(("ParentShardId", "AdjacentParentShardId"), shard["parents"]):
            out[name] = parent
        return out

    def get_shard_iterator(self, StreamName: str, ShardId: str, ShardIteratorType: str, **kw: Any) -> dict:
        self.calls.append(("GetShardIterator", ShardId, self.clock()))
        records = self.shards[ShardId]["records"]
        if ShardIteratorType == "TRIM_HORIZON":
            pos = 0
        elif ShardIteratorType == "AFTER_SEQUENCE_NUMBER":
            pos = next(i + 1 for i, r in enumerate(records) if r["SequenceNumber"] == kw["StartingSequenceNumber"])
        elif ShardIteratorType == "AT_TIMESTAMP":
            pos = next((i for i, r in enumerate(records) if r["ApproximateArrivalTimestamp"] >= kw["Timestamp"]), len(records))
        else:
            pos = len(records)
        return {"ShardIterator": f"{ShardId}:{pos}"}

    def get_records(self, ShardIterator: str, Limit: int = 10_000, **kw: Any) -> dict:
        sid, pos_text = ShardIterator.split(":")
        self.calls.append(("GetRecords", sid, self.clock()))
        if self.fail_next[sid]:
            raise _error(self.fail_next[sid].pop(0))
        shard = self.shards[sid]
        pos = int(pos_text)
        page = shard["records"][pos : pos + Limit]
        end = pos + len(page)
        left = len(shard["records"]) - end
        return {
            "Records": page,
            "NextShardIterator": None if shard["closed"] and left == 0 else f"{sid}:{end}",
            "MillisBehindLatest": 1000 * left,
        }




def fake_reader(kinesis: FakeKinesis, t: FakeTime | None = None, **options: str) -> KinesisStreamReader:
    t = t or FakeTime(1000.0)
    kinesis.clock = t.clock
    opts = parse_options({"streamName": "fake", **options})
    return KinesisStreamReader(opts, client_factory=lambda _: kinesis, clock=t.clock, sleep=t.sleep)


def drain_reader(reader: KinesisStreamReader, start: dict, max_rounds: int = 100) -> list[tuple[dict, dict, list[tuple]]]:
    """(start, end, rows) of every batch the reader plans until it makes no progress."""
    batches = []
    for _ in range(max_rounds):
        it, end = reader.read(start)
        rows = list(it)
        if json.dumps(end) == json.dumps(start):
            assert rows == []
            return batches
        batches.append((start, end, rows))
        start = end
    raise AssertionError("the reader never caught up")


def put_keyed(kinesis: FakeKinesis, keys: list[str], rounds: int, tag: str) -> list[tuple[str, str]]:
    sent = []
    for i in range(rounds):
        for key in keys:
            data = f"{key}|{tag}|{i}"
            kinesis.put(key, data.encode())
            sent.append((key, data))
    return sent


def _payload(row: tuple) -> str:
    return row[0].decode()


# ---------------------------------------------------------------------------------------------
# Reader tests (no Spark)

KEYS = [f"user{i}" for i in range(7)]


def test_reshard_reads_parents_first_and_keeps_per_key_order() -> None:
    kinesis = FakeKinesis(shards=2)
    sent = put_keyed(kinesis, KEYS, 5, "before")
    kinesis.split_all()
    sent += put_keyed(kinesis, KEYS, 5, "after")
    reader = fake_reader(kinesis, maxRecordsPerBatch="9")

    batches = drain_reader(reader, reader.initialOffset())

    rows = [row for _, _, b in batches for row in b]
    assert sorted(_payload(r) for r in rows) == sorted(d for _, d in sent)  # no loss, no duplicate
    assert all(len(b) <= 9 for _, _, b in batches)
    for key in KEYS:
        got = [_payload(r) for r in rows if r[2] == key]
        assert got == [d for k, d in sent if k == key]  # per-key order across the reshard
    batches_of = defaultdict(set)
    for i, (_, _, b) in enumerate(batches):
        for r in b:
            batches_of[r[3]].add(i)
    children = [sid for sid, shard in kinesis.shards.items() if shard["parents"] and batches_of[sid]]
    assert len(children) >= 2
    for sid in children:  # a child's first batch comes after its parent's last
        assert min(batches_of[sid]) > max(batches_of[kinesis.shards[sid]["parents"][0]])
    for _, _, b in batches:  # within a batch, one key never spans two shards
        shards_by_key = defaultdict(set)
        for r in b:
            shards_by_key[r[2]].add(r[3])
        assert all(len(s) == 1 for s in shards_by_key.values())
    final = Offset.from_json(batches[-1][1])
    assert final.shards["shardId-000000000000"].done and final.shards["shardId-000000000001"].done


def test_replay_between_offsets_returns_the_same_records() -> None:
    kinesis = FakeKinesis(shards=2)
    put_keyed(kinesis, KEYS, 4, "before")
    kinesis.split_all()
    put_keyed(kinesis, KEYS, 4, "after")
    reader = fake_reader(kinesis, maxRecordsPerBatch="6")
    batches = drain_reader(reader, reader.initialOffset())
    assert len(batches) >= 5

    # A replay runs in another process: a fresh reader, with no iterator kept from planning.
    replayer = fake_reader(kinesis, maxRecordsPerBatch="6")
    for start, end, rows in batches:
        again = list(replayer.readBetweenOffsets(start, end))
        assert [r[:6] for r in again] == [r[:6] for r in rows]


def test_a_stream_created_again_under_the_same_name_is_refused_not_skipped() -> None:
    kinesis = FakeKinesis(shards=2)
    put_keyed(kinesis, KEYS, 2, "old")
    reader = fake_reader(kinesis)
    offset = drain_reader(reader, reader.initialOffset())[-1][1]
    assert offset["stream_created"] == "2024-01-01T00:00:00+00:00"
    # Deleted and created again (the local stack restarted in memory): sequence numbers start over.
    kinesis.created = datetime(2024, 1, 2, tzinfo=timezone.utc)
    with pytest.raises(ConfigError, match=r"was created again .* Start the job on a new checkpoint"):
        reader.read(offset)


def test_an_offset_from_before_the_stream_was_recorded_adopts_it() -> None:
    kinesis = FakeKinesis(shards=1)
    reader = fake_reader(kinesis)
    old = reader.initialOffset()
    del old["stream_created"]  # written by the previous version of the source
    put_keyed(kinesis, KEYS, 1, "x")
    _, end = reader.read(old)
    assert end["stream_created"] == "2024-01-01T00:00:00+00:00"


def test_an_unreachable_endpoint_plans_no_batch_and_the_reader_goes_on_when_it_is_back() -> None:
    from botocore.exceptions import EndpointConnectionError

    kinesis = FakeKinesis(shards=1)
    reader = fake_reader(kinesis)
    start = reader.initialOffset()
    sent = put_keyed(kinesis, KEYS, 1, "x")
    real = kinesis.describe_stream_summary
    kinesis.describe_stream_summary = lambda **kw: (_ for _ in ()).throw(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    it, end = reader.read(start)
    assert list(it) == [] and end == start  # nothing planned, nothing lost, no exception
    kinesis.describe_stream_summary = real
    rows = [r for _, _, b in drain_reader(reader, start) for r in b]
    assert sorted(_payload(r) for r in rows) == sorted(d for _, d in sent)


def test_max_records_per_batch_is_shared_between_busy_shards() -> None:
    kinesis = FakeKinesis(shards=3)
    put_keyed(kinesis, KEYS, 10, "x")
    reader = fake_reader(kinesis, maxRecordsPerBatch="12")
    _, end = reader.read(reader.initialOffset())
    delivered = {sid: st.after for sid, st in Offset.from_json(end).shards.items()}
    assert all(delivered.values())  # every shard got a share of the first batch


def test_expired_iterator_and_throttling_lose_nothing() -> None:
    kinesis = FakeKinesis(shards=2)
    sent = put_keyed(kinesis, KEYS, 6, "x")
    t = FakeTime(1000.0)
    reader = fake_reader(kinesis, t, maxRecordsPerBatch="10")
    it, start = reader.read(reader.initialOffset())
    rows = list(it)
    # The next round reuses the kept iterators: one has expired, the other shard is throttled a while.
    kinesis.fail_next["shardId-000000000000"] = ["ExpiredIteratorException"]
    kinesis.fail_next["shardId-000000000001"] = ["ProvisionedThroughputExceededException"] * 5

    rows += [r for _, _, b in drain_reader(reader, start) for r in b]

    assert sorted(_payload(r) for r in rows) == sorted(d for _, d in sent)
    backoff = iter(t.slept)  # pacing sleeps interleave; the backoff must appear in order
    assert all(any(x == step for x in backoff) for step in (0.5, 1.0, 2.0))


def test_reader_pickles_without_its_runtime_state() -> None:
    # Spark pickles the reader into its replay tasks: clients, locks and iterators must stay behind.
    reader = KinesisStreamReader(parse_options({"streamName": "s"}))
    reader.limiter.acquire("shardId-000000000000")
    reader._iterators["shardId-000000000000"] = ("1", "it", 0.0)
    copy = pickle.loads(pickle.dumps(reader))
    assert copy.options == reader.options and copy._iterators == {} and copy._client is None


def test_get_records_calls_are_paced_per_shard() -> None:
    kinesis = FakeKinesis(shards=1)
    put_keyed(kinesis, ["k"], 40, "x")
    t = FakeTime(1000.0)
    reader = fake_reader(kinesis, t, maxRecordsPerBatch="1", maxCallsPerShardPerSecond="2")
    drain_reader(reader, reader.initialOffset())
    times = [c[2] for c in kinesis.calls if c[0] == "GetRecords"]
    assert len(times) >= 40
    for i, t0 in enumerate(times):
        assert sum(1 for t1 in times[i:] if t1 - t0 < 1.0) <= 2


def test_list_shards_follows_next_token_alone() -> None:
    kinesis = FakeKinesis(shards=3)
    kinesis.split_all()
    shards = list_shards(kinesis, {"StreamName": "fake"}, page_size=2)
    assert sorted(s.shard_id for s in shards) == sorted(kinesis.shards)


def test_options_are_validated() -> None:
    opts = parse_options({"streamARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/events", "maxRecordsPerBatch": "5"})
    assert opts.stream_name == "events" and opts.stream_kwargs == {"StreamARN": opts.stream_arn}
    assert opts.max_records_per_batch == 5 and opts.max_calls_per_shard_per_second == 5
    assert parse_options({"STREAMNAME": "s", "startingposition": "latest"}).starting_position == "LATEST"
    ts = parse_options({"streamName": "s", "startingPosition": "AT_TIMESTAMP", "startingTimestamp": "2024-01-02T03:04:05"})
    assert ts.starting_timestamp == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    for bad in (
        {},
        {"streamName": "s", "startingPosition": "EARLIEST"},
        {"streamName": "s", "startingPosition": "AT_TIMESTAMP"},
        {"streamName": "s", "maxRecordsPerBatch": "0"},
        {"streamName": "s", "maxCallsPerShardPerSecond": "many"},
        {"streamARN": "arn:aws:sqs:us-east-1:1:queue"},
        {"streamName": "a", "streamARN": "arn:aws:kinesis:us-east-1:1:stream/b"},
    ):
        with pytest.raises(ConfigError):
            parse_options(bad)


# ---------------------------------------------------------------------------------------------
# Spark + moto


def put_records(settings: Settings, records: list[tuple[str, bytes]]) -> list[dict]:
    """put_records in chunks; returns, per record, its ShardId and SequenceNumber."""
    kinesis = aws_client("kinesis", settings)
    out: list[dict] = []
    for i in range(0, len(records), 500):
        chunk = records[i : i + 500]
        resp = kinesis.put_records(
            StreamName=settings.stream_name, Records=[{"PartitionKey": k, "Data": d} for k, d in chunk]
        )
        assert resp.get("FailedRecordCount", 0) == 0
        out.extend(resp["Records"])
    return out


class Sink:
    """foreachBatch target: keeps (batch_id, row dict) for every row, in order."""

    def __init__(self, fail_on_batch: int | None = None) -> None:
        self.rows: list[tuple[int, dict]] = []
        self.batches: list[int] = []
        self.failed_rows: list[dict] = []
        self.fail_on_batch = fail_on_batch

    def __call__(self, df: Any, batch_id: int) -> None:
        rows = [r.asDict() for r in df.collect()]
        if batch_id == self.fail_on_batch:
            self.failed_rows = rows
            self.fail_on_batch = None
            raise RuntimeError("simulated crash inside the batch")
        self.batches.append(batch_id)
        self.rows.extend((batch_id, r) for r in rows)


def start(spark: Any, options: dict[str, str], checkpoint: Path, sink: Sink, trigger: dict) -> Any:
    reader = spark.readStream.format("kinesis")
    for k, v in options.items():
        reader = reader.option(k, v)
    return (
        reader.load()
        .writeStream.foreachBatch(sink)
        .option("checkpointLocation", str(checkpoint))
        .trigger(**trigger)
        .start()
    )


def drain(spark: Any, options: dict[str, str], checkpoint: Path, sink: Sink, max_runs: int = 20) -> int:
    """Run availableNow queries on one checkpoint until a run plans no batch; returns the runs with one.

    On Spark 4.1 a Python source gets one micro-batch per availableNow run (see the module).
    """
    for run in range(max_runs):
        seen = len(sink.batches)
        query = start(spark, options, checkpoint, sink, {"availableNow": True})
        assert query.awaitTermination(120), "an availableNow run did not finish"
        if query.exception() is not None:
            raise query.exception()
        if len(sink.batches) == seen:
            return run
    raise AssertionError("the query never caught up")


@pytest.fixture
def kinesis_spark(spark: Any, aws_resources: Any, aws_env: Settings) -> Any:
    """Spark with the source registered for this test's environment (endpoint, credentials)."""
    from authpulse_dagster.live.kinesis_source import register

    register(spark)
    return spark


def _options(settings: Settings, **extra: str) -> dict[str, str]:
    return {"streamName": settings.stream_name, **extra}


def test_spark_reads_every_record_once_in_bounded_batches(kinesis_spark: Any, aws_env: Settings, tmp_path: Path) -> None:
    records = [(f"user{i % 9}", f"event-{i}".encode()) for i in range(70)]
    before = datetime.now(timezone.utc)
    acks = put_records(aws_env, records)
    after = datetime.now(timezone.utc)
    assert len({a["ShardId"] for a in acks}) == 2  # the records cover both shards
    sink = Sink()

    drain(kinesis_spark, _options(aws_env, maxRecordsPerBatch="25"), tmp_path / "ckpt", sink)

    got = {r["data"]: r for _, r in sink.rows}
    assert len(sink.rows) == len(records) == len(got)  # every record, each exactly once
    assert len(sink.batches) >= 3
    per_batch = defaultdict(int)
    for batch_id, _ in sink.rows:
        per_batch[batch_id] += 1
    assert max(per_batch.values()) <= 25
    for (key, data), ack in zip(records, acks):
        row = got[data]
        assert (row["partition_key"], row["shard_id"], row["sequence_number"]) == (key, ack["ShardId"], ack["SequenceNumber"])
        assert row["stream_name"] == aws_env.stream_name
        arrival = row["approximate_arrival_timestamp"].astimezone(timezone.utc)  # collect() gives local naive time
        assert before - timedelta(seconds=2) <= arrival <= after + timedelta(seconds=2)
        assert row["millis_behind_latest"] is not None and row["millis_behind_latest"] >= 0


def test_spark_restart_resumes_after_the_last_batch(kinesis_spark: Any, aws_env: Settings, tmp_path: Path) -> None:
    first = [(f"k{i % 4}", f"first-{i}".encode()) for i in range(12)]
    put_records(aws_env, first)
    sink = Sink()
    drain(kinesis_spark, _options(aws_env), tmp_path / "ckpt", sink)
    assert sorted(r["data"] for _, r in sink.rows) == sorted(d for _, d in first)

    second = [(f"k{i % 4}", f"second-{i}".encode()) for i in range(9)]
    put_records(aws_env, second)
    restarted = Sink()
    drain(kinesis_spark, _options(aws_env), tmp_path / "ckpt", restarted)

    assert sorted(r["data"] for _, r in restarted.rows) == sorted(d for _, d in second)
    assert min(restarted.batches) > max(sink.batches)


def test_spark_replays_a_failed_batch_with_the_same_records(kinesis_spark: Any, aws_env: Settings, tmp_path: Path) -> None:
    records = [(f"k{i % 5}", f"r-{i}".encode()) for i in range(24)]
    put_records(aws_env, records)
    opts = _options(aws_env, maxRecordsPerBatch="10")
    crashing = Sink(fail_on_batch=1)
    query = start(kinesis_spark, opts, tmp_path / "ckpt", crashing, {"availableNow": True})
    assert query.awaitTermination(120) and crashing.batches == [0]
    query = start(kinesis_spark, opts, tmp_path / "ckpt", crashing, {"availableNow": True})
    with pytest.raises(Exception, match="simulated crash"):
        query.awaitTermination(120)
    assert len(crashing.failed_rows) == 10

    # The restart replays batch 1 as planned in the offset log (readBetweenOffsets in a Spark task),
    # even with a smaller limit now: planning it again would give 4 records, not the same 10.
    recovered = Sink()
    drain(kinesis_spark, {**opts, "maxRecordsPerBatch": "4"}, tmp_path / "ckpt", recovered)
    replayed = [r for b, r in recovered.rows if b == 1]
    assert [r["sequence_number"] for r in replayed] == [r["sequence_number"] for r in crashing.failed_rows]
    assert [r["data"] for r in replayed] == [r["data"] for r in crashing.failed_rows]
    delivered = [r["data"] for _, r in crashing.rows + recovered.rows]
    assert sorted(delivered) == sorted(d for _, d in records)


def _wait_active(settings: Settings, timeout: float = 30.0) -> None:
    kinesis = aws_client("kinesis", settings)
    deadline = time.monotonic() + timeout
    while kinesis.describe_stream_summary(StreamName=settings.stream_name)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, "stream did not become ACTIVE"
        time.sleep(0.2)


def test_spark_reads_across_a_reshard_in_key_order(kinesis_spark: Any, aws_env: Settings, tmp_path: Path) -> None:
    keys = [f"user{i}" for i in range(8)]
    before = [(k, f"{k}|before|{i}".encode()) for i in range(5) for k in keys]
    put_records(aws_env, before)
    kinesis = aws_client("kinesis", aws_env)
    kinesis.update_shard_count(StreamName=aws_env.stream_name, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    _wait_active(aws_env)
    after = [(k, f"{k}|after|{i}".encode()) for i in range(5) for k in keys]
    put_records(aws_env, after)
    shards = list_shards(kinesis, {"StreamName": aws_env.stream_name}, page_size=1)  # paginated
    parents = {s.shard_id for s in shards if s.closed}
    assert len(parents) == 2 and len([s for s in shards if s.parents]) == 4
    sink = Sink()

    drain(kinesis_spark, _options(aws_env, maxRecordsPerBatch="30"), tmp_path / "ckpt", sink)

    got = [r["data"] for _, r in sink.rows]
    assert sorted(got) == sorted(d for _, d in before + after)  # no loss, no duplicate
    for key in keys:  # rows arrive in batch order, and in order within a batch
        assert [d for d in got if d.startswith(f"{key}|".encode())] == [d for k, d in before + after if k == key]
    final = Offset.from_json(last_offset(tmp_path / "ckpt"))
    assert all(final.shards[p].done for p in parents)  # closed shards read to their end


def last_offset(checkpoint: Path) -> dict:
    """The source offset of the last planned batch, from Spark's offset log."""
    log = max((checkpoint / "offsets").iterdir(), key=lambda f: int(f.name) if f.name.isdigit() else -1)
    return json.loads(log.read_text().splitlines()[-1])


def test_spark_latest_reads_only_records_after_the_query_started(
    kinesis_spark: Any, aws_env: Settings, moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from authpulse_dagster import local_stack
    from authpulse_dagster.live.kinesis_source import register

    put_records(aws_env, [(f"k{i}", f"old-{i}".encode()) for i in range(6)])
    sink = Sink()
    # The workers get a dead global endpoint: the endpointUrl option must be what reaches moto.
    with monkeypatch.context() as m:
        m.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{local_stack.find_free_port()}")
        register(kinesis_spark)
    opts = _options(
        aws_env, startingPosition="LATEST", endpointUrl=moto_endpoint, region=aws_env.region, maxRecordsPerBatch="3"
    )
    query = start(kinesis_spark, opts, tmp_path / "ckpt", sink, {"processingTime": "0 seconds"})
    try:
        query.processAllAvailable()  # the first trigger has fixed LATEST
        new = [(f"k{i}", f"new-{i}".encode()) for i in range(8)]
        put_records(aws_env, new)
        query.processAllAvailable()  # drains in several batches within one run
    finally:
        query.stop()
        register(kinesis_spark)  # leave the session's registration pointing at the right endpoint
    assert query.exception() is None
    assert sorted(r["data"] for _, r in sink.rows) == sorted(d for _, d in new)
    assert len(sink.batches) >= 3


def test_spark_at_timestamp_skips_older_records(kinesis_spark: Any, aws_env: Settings, tmp_path: Path) -> None:
    put_records(aws_env, [(f"k{i}", f"old-{i}".encode()) for i in range(6)])
    time.sleep(0.3)
    since = datetime.now(timezone.utc)
    time.sleep(0.3)
    new = [(f"k{i}", f"new-{i}".encode()) for i in range(7)]
    put_records(aws_env, new)
    sink = Sink()
    opts = _options(aws_env, startingPosition="AT_TIMESTAMP", startingTimestamp=since.isoformat())

    drain(kinesis_spark, opts, tmp_path / "ckpt", sink)

    assert sorted(r["data"] for _, r in sink.rows) == sorted(d for _, d in new)
