"""Silver: bronze days → ``auth_events`` and ``quarantine``, with the data-quality checks.

The checks are computed from what the tables hold after the commit (row
counts from Iceberg metadata, uniqueness and nulls with Spark), so they
check the written data, not the step's own bookkeeping.
"""

from __future__ import annotations

import time

from pyspark import StorageLevel
from pyspark.sql import functions as F

from authpulse_dagster.lakehouse.schemas import AUTH_EVENTS, QUARANTINE, RAW_EVENTS
from authpulse_dagster.lakehouse.spark_io import read_table, write_days
from authpulse_dagster.lakehouse.tables import count_rows, days_filter, ensure_table, partition_summary
from authpulse_dagster.steps.context import CheckOutcome, StepContext, StepResult
from authpulse_dagster.transforms.silver import deduplicate, parse, quarantine_rows, valid_events
from authpulse_dagster.transforms.validation import ParseOptions

QUARANTINE_RATE_WARN = 0.05

CHECK_UNIQUE = "event_id_unique"
CHECK_NOT_NULL = "user_and_computer_not_null"
CHECK_CONSERVATION = "row_conservation"
CHECK_QUARANTINE_RATE = "quarantine_rate"


def run(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    spark, s = ctx.spark, ctx.settings
    bronze = ensure_table(ctx.catalog, RAW_EVENTS)
    silver = ensure_table(ctx.catalog, AUTH_EVENTS)
    quarantine = ensure_table(ctx.catalog, QUARANTINE)
    rows_filter = days_filter(ctx.days)

    raw = read_table(spark, bronze, rows_filter).where(F.col("event_date").isin(ctx.days))
    parsed = parse(raw, ParseOptions(s.dataset_epoch, s.max_line_bytes, s.max_dataset_seconds))
    parsed = parsed.persist(StorageLevel.MEMORY_AND_DISK)

    # One pass over the parsed rows for every count the step reports.
    counts = parsed.groupBy("event_date", "reason").agg(F.count(F.lit(1)).alias("n")).collect()
    valid_by_day = {r["event_date"]: r["n"] for r in counts if r["reason"] is None}
    reasons: dict[str, int] = {}
    for r in counts:
        if r["reason"] is not None:
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + r["n"]

    q_written = write_days(
        quarantine_rows(parsed), quarantine, ctx.days, ctx.snapshot_properties(QUARANTINE.name), sort_by=("reason", "line_number")
    )
    # Duplicates per day go into the snapshot summary, where the conservation check reads them back.
    duplicates_by_day: dict = {}

    def day_properties(day, rows_written):
        duplicates_by_day[day] = valid_by_day.get(day, 0) - rows_written
        return {"authpulse.duplicates": duplicates_by_day[day], "authpulse.valid": valid_by_day.get(day, 0)}

    s_written = write_days(
        deduplicate(valid_events(parsed)),
        silver,
        ctx.days,
        ctx.snapshot_properties(AUTH_EVENTS.name),
        sort_by=("event_ts", "user_id"),
        per_day_properties=day_properties,
    )
    parsed.unpersist()

    duplicates = sum(duplicates_by_day.values())
    elapsed = round(time.monotonic() - started, 3)
    return StepResult(
        metadata={
            AUTH_EVENTS.name: {
                "rows_in": count_rows(bronze, rows_filter),
                "rows": s_written["rows"],
                "rows_by_day": s_written["rows_by_day"],
                "quarantined": q_written["rows"],
                "duplicates": duplicates,
                "snapshots": s_written["snapshots"],
                "table": AUTH_EVENTS.identifier,
                "location": silver.location(),
                "seconds": elapsed,
            },
            QUARANTINE.name: {
                "rows": q_written["rows"],
                "rows_by_day": q_written["rows_by_day"],
                "by_reason": dict(sorted(reasons.items())),
                "snapshots": q_written["snapshots"],
                "table": QUARANTINE.identifier,
                "location": quarantine.location(),
            },
        },
        checks=checks(ctx),
    )


def checks(ctx: StepContext) -> list[CheckOutcome]:
    """The silver data-quality checks over the step's days, read back from the tables."""
    catalog, spark = ctx.catalog, ctx.spark
    bronze = catalog.load_table(RAW_EVENTS.identifier)
    silver = catalog.load_table(AUTH_EVENTS.identifier)
    quarantine = catalog.load_table(QUARANTINE.identifier)
    f = days_filter(ctx.days)
    events = read_table(spark, silver, f).where(F.col("event_date").isin(ctx.days))
    stats = events.agg(
        F.count(F.lit(1)).alias("rows"),
        F.countDistinct("event_id").alias("ids"),
        F.sum((F.col("user_id").isNull() | F.col("computer_id").isNull()).cast("long")).alias("nulls"),
    ).first()
    rows, ids, nulls = stats["rows"], stats["ids"], stats["nulls"] or 0

    per_day = {}
    balanced = True
    for day in ctx.days:
        day_filter = days_filter([day])
        b, s, q = count_rows(bronze, day_filter), count_rows(silver, day_filter), count_rows(quarantine, day_filter)
        summary = partition_summary(silver, day) or {}
        dup = int(summary.get("authpulse.duplicates", 0))
        per_day[day.isoformat()] = {"bronze": b, "silver": s, "quarantined": q, "duplicates": dup}
        balanced &= b == s + q + dup
    total_bronze = sum(v["bronze"] for v in per_day.values())
    total_q = sum(v["quarantined"] for v in per_day.values())
    rate = total_q / total_bronze if total_bronze else 0.0
    return [
        CheckOutcome(AUTH_EVENTS.name, CHECK_UNIQUE, rows == ids, description="event_id is unique in each partition",
                     metadata={"rows": rows, "distinct_event_ids": ids}),
        CheckOutcome(AUTH_EVENTS.name, CHECK_NOT_NULL, nulls == 0, description="no null user_id or computer_id",
                     metadata={"null_rows": nulls}),
        CheckOutcome(AUTH_EVENTS.name, CHECK_CONSERVATION, balanced,
                     description="bronze rows = silver rows + quarantined + duplicates removed, per day",
                     metadata={"per_day": per_day}),
        CheckOutcome(QUARANTINE.name, CHECK_QUARANTINE_RATE, rate <= QUARANTINE_RATE_WARN, severity="WARN",
                     description=f"quarantined share of bronze rows at most {QUARANTINE_RATE_WARN:.0%}",
                     metadata={"rate": round(rate, 6), "quarantined": total_q, "bronze": total_bronze}),
    ]
