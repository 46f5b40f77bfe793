"""Kinesis source rows built from a LANL file exactly as the producer would send them."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from authpulse_dagster.lanl.days import iter_with_days
from authpulse_dagster.lanl.readers import iter_batches
from authpulse_dagster.live.record import encode
from authpulse_dagster.settings import Settings

SOURCE_DDL = (
    "data binary, stream_name string, partition_key string, shard_id string, sequence_number string, "
    "approximate_arrival_timestamp timestamp, millis_behind_latest bigint"
)
ARRIVAL = datetime(2026, 11, 1, tzinfo=timezone.utc)


def records_for(path: Path, fmt: str, settings: Settings, shards: int = 2) -> list[tuple]:
    rows = []
    seq = {}
    for batch, days in iter_with_days(iter_batches(path, fmt, max_dataset_seconds=settings.max_dataset_seconds), settings.dataset_epoch):
        for i, r in enumerate(batch.to_pylist()):
            data, key = encode(
                event_id=r["event_id"], fmt=fmt, line=r["payload"], payload_size=r["payload_size"],
                dataset_time=r["dataset_time"], event_date=date(1970, 1, 1) + timedelta(days=int(days[i])),
                source_file=str(path), line_number=r["line_number"], replay_time=ARRIVAL,
            )
            shard = f"shardId-{hash(key) % shards:012d}"
            seq[shard] = seq.get(shard, 0) + 1
            rows.append((data, "s", key, shard, f"{seq[shard]:056d}", ARRIVAL + timedelta(milliseconds=len(rows)), 0))
    return rows


def as_batch(spark: SparkSession, rows: list[tuple], settings: Settings | None = None) -> DataFrame:
    """One micro-batch as ``BatchProcessor`` receives it: the streaming plan applied to these rows.

    Run on a static DataFrame, the dedup state starts empty: copies within the
    rows are marked, copies of earlier batches are not (that needs the real
    query, see tests/live/test_stream_job.py).
    """
    from authpulse_dagster.live.stream_job import streaming_plan
    from authpulse_dagster.transforms.validation import ParseOptions

    s = settings or Settings.from_env()
    opts = ParseOptions(s.dataset_epoch, s.max_line_bytes, s.max_dataset_seconds)
    return streaming_plan(spark.createDataFrame(rows, SOURCE_DDL), opts)


def put_all(kinesis, stream_name: str, rows: list[tuple], chunk: int = 500) -> None:
    """Put ``rows`` (from :func:`records_for`) into a real (moto) Kinesis stream, in order."""
    for i in range(0, len(rows), chunk):
        entries = [{"Data": r[0], "PartitionKey": r[2]} for r in rows[i : i + chunk]]
        failed = kinesis.put_records(StreamName=stream_name, Records=entries)["FailedRecordCount"]
        assert failed == 0
