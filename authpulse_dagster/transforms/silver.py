"""Bronze → silver: split parsed records into events and quarantine, deduplicate, enrich.

Pure functions on DataFrames; the batch step and the streaming job both call
them. Deduplication keeps, for each ``event_id``, the earliest landed copy
(ties broken by source position), so the choice is deterministic.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from authpulse_dagster.transforms.validation import ParseOptions, parse_records

AUTH_EVENT_COLUMNS = [
    "event_id",
    "event_ts",
    "event_date",
    "dataset_time",
    "user_id",
    "user_domain",
    "computer_id",
    "src_computer_id",
    "dst_user_id",
    "auth_type",
    "logon_type",
    "orientation",
    "success",
    "event_hour",
    "day_of_week",
    "source",
    "format",
    "ingested_at",
]

QUARANTINE_COLUMNS = [
    "event_id",
    "event_date",
    "reason",
    "detail",
    "payload",
    "payload_text",
    "format",
    "source",
    "source_file",
    "line_number",
    "ingested_at",
]


def parse(raw: DataFrame, opts: ParseOptions) -> DataFrame:
    """Bronze rows with parsed fields and a ``reason`` (null when valid)."""
    return parse_records(raw, opts)


def quarantine_rows(parsed: DataFrame) -> DataFrame:
    """The invalid records, shaped for the quarantine table."""
    return (
        parsed.where(F.col("reason").isNotNull())
        .withColumn("payload_text", F.expr("make_valid_utf8(cast(payload AS STRING))"))
        .select(*QUARANTINE_COLUMNS)
    )


def valid_events(parsed: DataFrame) -> DataFrame:
    """The valid records as silver rows (before deduplication)."""
    return (
        parsed.where(F.col("reason").isNull())
        .withColumn("dataset_time", F.col("parsed_time"))
        # Bronze files a record under the day of its own time; silver recomputes it from event_ts.
        .withColumn("event_date", F.to_date("event_ts"))
        .withColumn("event_hour", F.hour("event_ts"))
        .withColumn("day_of_week", F.dayofweek("event_ts"))
        # Spark's dayofweek is 1=Sunday; ISO is 1=Monday.
        .withColumn("day_of_week", ((F.col("day_of_week") + 5) % 7) + 1)
        .withColumn("_order", F.struct("ingested_at", "source_file", "line_number", "sequence_number"))
    )


def deduplicate(events: DataFrame, already_present: DataFrame | None = None) -> DataFrame:
    """One row per ``event_id``: the first copy landed; ids in ``already_present`` are dropped.

    A hash aggregate (``min_by``) rather than a window: duplicates are rare, and
    a window would sort every row by id.
    """
    others = [c for c in AUTH_EVENT_COLUMNS if c != "event_id"]
    first = events.groupBy("event_id").agg(F.min_by(F.struct(*others), F.col("_order")).alias("_row"))
    first = first.select("event_id", *[F.col(f"_row.{c}").alias(c) for c in others])
    if already_present is not None:
        first = first.join(already_present.select("event_id").distinct(), "event_id", "left_anti")
    return first.select(*AUTH_EVENT_COLUMNS)
