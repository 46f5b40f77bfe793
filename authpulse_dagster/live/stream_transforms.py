"""Pure DataFrame functions the streaming job adds to the shared batch transforms.

Kinesis rows become bronze rows of exactly the shape the file path writes
(payload = the original line bytes), so silver and gold are computed by the
same functions on both paths. A record that is not ``authpulse.lanl.v1`` JSON
is kept whole as the payload with format ``bad_record`` (quarantined later).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from authpulse_dagster.live.record import SCHEMA
from authpulse_dagster.transforms.validation import BAD_RECORD_FORMAT

RECORD_DDL = (
    "schema string, event_id string, format string, line string, line_b64 string, payload_size bigint, "
    "truncated boolean, fields array<string>, dataset_time bigint, event_date string, source_file string, "
    "line_number bigint, replay_time string"
)

WATERMARK_SECONDS = 5 * 60


def bronze_from_kinesis(records: DataFrame, ingested_at: datetime) -> DataFrame:
    """Kinesis source rows → ``raw_events`` rows (every record, nothing dropped)."""
    r = F.from_json(F.col("data").cast("string"), RECORD_DDL, {"mode": "PERMISSIVE"})
    decoded = records.withColumn("r", r)
    ok: Column = (F.col("r.schema") == F.lit(SCHEMA)) & F.col("r.event_id").isNotNull() & (
        F.col("r.line").isNotNull() | F.col("r.line_b64").isNotNull()
    )
    ok = F.coalesce(ok, F.lit(False))
    line_bytes = F.when(F.col("r.line").isNotNull(), F.encode(F.col("r.line"), "UTF-8")).otherwise(
        F.unbase64(F.col("r.line_b64"))
    )
    record_day = F.to_date(F.col("r.event_date"))
    return decoded.select(
        F.when(ok, F.col("r.event_id"))
        .otherwise(F.concat(F.lit("kinesis:"), F.col("shard_id"), F.lit(":"), F.col("sequence_number")))
        .alias("event_id"),
        F.when(ok, line_bytes).otherwise(F.col("data")).alias("payload"),
        F.when(ok, F.col("r.payload_size")).otherwise(F.length("data").cast("long")).alias("payload_size"),
        F.lit("kinesis").alias("source"),
        F.when(ok, F.col("r.format")).otherwise(F.lit(BAD_RECORD_FORMAT)).alias("format"),
        F.when(ok, F.col("r.source_file")).alias("source_file"),
        F.when(ok, F.col("r.line_number")).alias("line_number"),
        F.when(ok, F.col("r.dataset_time")).alias("dataset_time"),
        F.col("shard_id"),
        F.col("sequence_number"),
        F.col("approximate_arrival_timestamp").alias("arrival_ts"),
        # A record without a usable day is filed under the day it arrived.
        F.coalesce(F.when(ok, record_day), F.to_date("approximate_arrival_timestamp")).alias("event_date"),
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
    )


IDLE_SHARD_SECONDS = 86400


def watermark_from(shard_max: dict[str, datetime]) -> datetime | None:
    """The watermark: the slowest active shard's newest event time, minus the allowed delay.

    Taking the minimum over shards (as Flink does over partitions) keeps a
    shard that a micro-batch cut further back in event time from having its
    events declared late. Shards idle for a day behind the newest one (closed
    parents after a reshard, drained keys) are left out so they cannot hold
    the watermark back forever.
    """
    if not shard_max:
        return None
    newest = max(shard_max.values())
    active = [t for t in shard_max.values() if (newest - t).total_seconds() <= IDLE_SHARD_SECONDS]
    return min(active) - timedelta(seconds=WATERMARK_SECONDS)


def split_late(events: DataFrame, watermark: datetime | None) -> tuple[DataFrame, DataFrame]:
    """(on time, late): events older than the watermark are late."""
    if watermark is None:
        return events, events.limit(0)
    cutoff = F.lit(watermark).cast("timestamp")
    return events.where(F.col("event_ts") >= cutoff), events.where(F.col("event_ts") < cutoff)


def late_rows(late: DataFrame, watermark: datetime, batch_id: int, arrivals: DataFrame) -> DataFrame:
    """Rows for ``late_events``: what arrived behind the watermark, with when it arrived."""
    return late.join(arrivals.select("event_id", "arrival_ts").dropDuplicates(["event_id"]), "event_id", "left").select(
        "event_id",
        "event_date",
        "event_ts",
        F.lit(watermark).cast("timestamp").alias("watermark"),
        F.lit(batch_id).cast("long").alias("batch_id"),
        "arrival_ts",
    )
