"""Pure DataFrame functions the streaming job adds to the shared batch transforms.

Kinesis rows become bronze rows of exactly the shape the file path writes
(payload = the original line bytes), so silver and gold are computed by the
same functions on both paths. A record that is not ``authpulse.lanl.v1`` JSON
is kept whole as the payload with format ``bad_record`` (quarantined later).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType

from authpulse_dagster.lanl.event_id import id_matches
from authpulse_dagster.live.record import SCHEMA
from authpulse_dagster.transforms.validation import BAD_RECORD_FORMAT, ID_CONFLICT_FORMAT, ParseOptions, time_limit

RECORD_DDL = (
    "schema string, event_id string, format string, line string, line_b64 string, payload_size bigint, "
    "truncated boolean, fields array<string>, dataset_time bigint, event_date string, source_file string, "
    "line_number bigint, replay_time string"
)

WATERMARK_SECONDS = 5 * 60


@F.udf(returnType=BooleanType(), useArrow=True)
def _id_belongs_to_line(claimed: str | None, line: bytes | None, truncated: bool | None) -> bool:
    if claimed is None or line is None:
        return False
    # A cut line (over 1 MiB) cannot be checked; it is quarantined as line_too_long anyway.
    return bool(truncated) or id_matches(claimed, bytes(line))


def bronze_from_kinesis(
    records: DataFrame, ingested_at: datetime | Column, opts: ParseOptions, keep: tuple[str, ...] = ()
) -> DataFrame:
    """Kinesis source rows → ``raw_events`` rows: every record, nothing dropped, never an error.

    A record is used as a line only if it is valid UTF-8 JSON of schema v1 with
    an event id, a format, a line (``line`` or decodable ``line_b64``) and a
    whole ``payload_size``; anything else is kept whole as format
    ``bad_record``. A v1 record whose event id is not the id of its own line
    is kept whole as ``event_id_conflict``: only records sharing an id *and*
    a line may be deduplicated. The day is the line's own time when that is a
    valid dataset time (the record's ``event_date`` cannot contradict it),
    else the record's ``event_date`` (the producer's rule for damaged lines),
    else the arrival day. ``keep`` names source columns carried along (e.g.
    ``millis_behind_latest`` for the batch's metrics).
    """
    utf8 = F.expr("is_valid_utf8(cast(data AS STRING))")
    decoded = records.select(
        "*", F.when(utf8, F.from_json(F.col("data").cast("string"), RECORD_DDL, {"mode": "PERMISSIVE"})).alias("r")
    )
    line_bytes = F.when(F.col("r.line").isNotNull(), F.encode(F.col("r.line"), "UTF-8")).otherwise(
        F.try_to_binary(F.col("r.line_b64"), F.lit("base64"))
    )
    head = F.trim(F.get(F.split(F.col("_line").cast("string"), ",", 2), 0))
    decoded = decoded.select("*", line_bytes.alias("_line")).select("*", head.alias("_head"))
    shaped: Column = (
        (F.col("r.schema") == F.lit(SCHEMA))
        & F.col("r.event_id").isNotNull()
        & F.col("r.format").isNotNull()
        & F.col("_line").isNotNull()
        & (F.col("r.payload_size") >= 0)
    )
    shaped = F.coalesce(shaped, F.lit(False))
    truncated = F.col("r.payload_size") > F.length("_line")
    decoded = decoded.select(
        "*",
        shaped.alias("_shaped"),
        F.when(shaped, _id_belongs_to_line(F.col("r.event_id"), F.col("_line"), truncated)).alias("_id_ok"),
    )
    ok = F.col("_shaped") & F.coalesce(F.col("_id_ok"), F.lit(False))
    conflict = F.col("_shaped") & ~ok

    limit = time_limit(opts)
    epoch_seconds = int(opts.epoch.timestamp())
    t = F.expr("try_cast(_head AS BIGINT)")
    own_time = F.when(F.col("_head").rlike(r"^[0-9]+$") & (t >= 0) & (t <= F.lit(limit)), t)
    own_day = F.date_from_unix_date(F.floor((F.lit(epoch_seconds) + F.col("_own_time")) / 86400).cast("int"))
    decoded = decoded.select("*", own_time.alias("_own_time")).select("*", F.when(F.col("_own_time").isNotNull(), own_day).alias("_own_day"))
    whole_id = F.concat_ws(":", F.lit("kinesis"), F.col("shard_id"), F.col("sequence_number"))
    arrival_day = F.coalesce(F.to_date("approximate_arrival_timestamp"), F.to_date(F.lit(ingested_at).cast("timestamp")))
    return decoded.select(
        F.when(ok, F.col("r.event_id")).otherwise(whole_id).alias("event_id"),
        F.when(ok, F.col("_line")).otherwise(F.col("data")).alias("payload"),
        # Never below the bytes actually carried: a record cannot talk its way past line_too_long.
        F.when(ok, F.greatest(F.col("r.payload_size"), F.length("_line").cast("long")))
        .otherwise(F.length("data").cast("long"))
        .alias("payload_size"),
        F.lit("kinesis").alias("source"),
        F.when(ok, F.col("r.format"))
        .when(conflict, F.lit(ID_CONFLICT_FORMAT))
        .otherwise(F.lit(BAD_RECORD_FORMAT))
        .alias("format"),
        F.when(ok, F.col("r.source_file")).alias("source_file"),
        F.when(ok, F.col("r.line_number")).alias("line_number"),
        F.when(ok, F.col("_own_time")).alias("dataset_time"),
        F.col("shard_id"),
        F.col("sequence_number"),
        F.col("approximate_arrival_timestamp").alias("arrival_ts"),
        F.coalesce(
            F.when(ok, F.coalesce(F.col("_own_day"), F.try_to_date(F.col("r.event_date")))), arrival_day
        ).alias("event_date"),
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
        *keep,
    )


IDLE_SHARD_SECONDS = 86400


def watermark_from(shard_max: dict[str, datetime], delivering: Iterable[str] = ()) -> datetime | None:
    """The watermark: the slowest active shard's newest event time, minus the allowed delay.

    Taking the minimum over shards (as Flink does over partitions) keeps a
    shard that a micro-batch cut further back in event time from having its
    events declared late. Shards idle for a day behind the newest one (closed
    parents after a reshard, drained keys) are left out so they cannot hold
    the watermark back forever; a shard ``delivering`` records in this batch
    is never idle, however far behind it is (a reader that drained one shard
    faster than another must not turn the slow shard's backlog into late events).
    """
    if not shard_max:
        return None
    newest = max(shard_max.values())
    delivering = set(delivering)
    active = [
        t for shard, t in shard_max.items() if shard in delivering or (newest - t).total_seconds() <= IDLE_SHARD_SECONDS
    ]
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
