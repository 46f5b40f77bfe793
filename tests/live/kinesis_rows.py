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


def as_batch(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, SOURCE_DDL)
