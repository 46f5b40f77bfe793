"""Silver: bronze days → ``auth_events`` and ``quarantine``, with the data-quality checks.

The checks are computed from what the tables hold after the commit (row
counts from Iceberg metadata, uniqueness and nulls with Spark), so they
check the written data, not the step's own bookkeeping. The one figure the
tables cannot give back, how many valid rows the parser saw per day, travels
in the silver snapshot's summary.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import functions as F

from authpulse_dagster.lakehouse import spark_tables
from authpulse_dagster.lakehouse.schemas import AUTH_EVENTS, QUARANTINE, RAW_EVENTS
from authpulse_dagster.steps.context import CheckOutcome, StepContext, StepResult
from authpulse_dagster.steps.io import read_days, table_metadata, write_days
from authpulse_dagster.transforms.silver import deduplicate, parse, quarantine_rows, valid_events
from authpulse_dagster.transforms.validation import ParseOptions

QUARANTINE_RATE_WARN = 0.05
VALID_BY_DAY = "authpulse.valid_by_day"


@dataclass(frozen=True)
class CheckDef:
    """A check's identity and description, written once: the asset spec and the outcome both use it."""

    asset: str
    name: str
    description: str
    severity: str = "ERROR"

    def outcome(self, passed: bool, metadata: dict) -> CheckOutcome:
        return CheckOutcome(self.asset, self.name, passed, self.severity, self.description, metadata)


UNIQUE = CheckDef(AUTH_EVENTS.name, "event_id_unique", "event_id is unique in each partition")
NOT_NULL = CheckDef(AUTH_EVENTS.name, "user_and_computer_not_null", "no null user_id or computer_id")
CONSERVATION = CheckDef(AUTH_EVENTS.name, "row_conservation",
                        "bronze rows = silver rows + quarantined + duplicates removed, per day")
QUARANTINE_RATE = CheckDef(QUARANTINE.name, "quarantine_rate",
                           f"quarantined share of bronze rows at most {QUARANTINE_RATE_WARN:.0%}", severity="WARN")
CHECKS = (UNIQUE, NOT_NULL, CONSERVATION, QUARANTINE_RATE)
# Names kept for callers that refer to a single check.
CHECK_UNIQUE, CHECK_NOT_NULL, CHECK_CONSERVATION, CHECK_QUARANTINE_RATE = (c.name for c in CHECKS)


def run(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    s = ctx.settings
    raw = read_days(ctx, RAW_EVENTS, ctx.days[0], ctx.days[-1]).where(F.col("event_date").isin(ctx.days))
    parsed = parse(raw, ParseOptions(s.dataset_epoch, s.max_line_bytes, s.max_dataset_seconds))
    parsed = parsed.persist(StorageLevel.MEMORY_AND_DISK)

    # One pass over the parsed rows for every count the step reports.
    counts = parsed.groupBy("event_date", "reason").agg(F.count(F.lit(1)).alias("n")).collect()
    valid_by_day = {d.isoformat(): 0 for d in ctx.days}
    reasons: dict[str, int] = {}
    for r in counts:
        if r["reason"] is None:
            valid_by_day[r["event_date"].isoformat()] += r["n"]
        else:
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + r["n"]

    q_written = write_days(ctx, QUARANTINE, quarantine_rows(parsed))
    s_written = write_days(ctx, AUTH_EVENTS, deduplicate(valid_events(parsed)),
                           properties={VALID_BY_DAY: json.dumps(valid_by_day, sort_keys=True)})
    parsed.unpersist()

    duplicates = sum(valid_by_day[d] - n for d, n in s_written["rows_by_day"].items())
    rows_in = sum(spark_tables.rows_by_day(ctx.spark, RAW_EVENTS, ctx.days).values())
    return StepResult(
        metadata={
            AUTH_EVENTS.name: table_metadata(AUTH_EVENTS, s_written, started, rows_in=rows_in,
                                             quarantined=q_written["rows"], duplicates=duplicates),
            QUARANTINE.name: table_metadata(QUARANTINE, q_written, started, by_reason=dict(sorted(reasons.items()))),
        },
        checks=checks(ctx),
    )


def _valid_by_day(ctx: StepContext) -> dict[str, int]:
    """Valid rows per day as the newest silver commit covering each day recorded them."""
    found: dict[str, int] = {}
    wanted = {d.isoformat() for d in ctx.days}
    for snap in spark_tables.snapshot_summaries(ctx.spark, AUTH_EVENTS):
        recorded = snap["summary"].get(VALID_BY_DAY)
        if recorded:
            for day, n in json.loads(recorded).items():
                if day in wanted and day not in found:
                    found[day] = int(n)
        if wanted <= found.keys():
            break
    return found


def checks(ctx: StepContext) -> list[CheckOutcome]:
    """The silver data-quality checks over the step's days, read back from the tables."""
    spark = ctx.spark
    events = read_days(ctx, AUTH_EVENTS, ctx.days[0], ctx.days[-1]).where(F.col("event_date").isin(ctx.days))
    stats = events.agg(
        F.count(F.lit(1)).alias("rows"),
        F.countDistinct("event_id").alias("ids"),
        F.sum((F.col("user_id").isNull() | F.col("computer_id").isNull()).cast("long")).alias("nulls"),
    ).first()
    rows, ids, nulls = stats["rows"], stats["ids"], stats["nulls"] or 0

    bronze = spark_tables.rows_by_day(spark, RAW_EVENTS, ctx.days)
    silver = spark_tables.rows_by_day(spark, AUTH_EVENTS, ctx.days)
    quarantined = spark_tables.rows_by_day(spark, QUARANTINE, ctx.days)
    valid = _valid_by_day(ctx)
    per_day = {}
    balanced = True
    for day in (d.isoformat() for d in ctx.days):
        b, s, q = bronze[day], silver[day], quarantined[day]
        # Rows the stream appended after this step's commit are valid too: never a negative count.
        dup = max(valid.get(day, s) - s, 0)
        per_day[day] = {"bronze": b, "silver": s, "quarantined": q, "duplicates": dup}
        balanced &= b == s + q + dup
    total_bronze = sum(bronze.values())
    total_q = sum(quarantined.values())
    rate = total_q / total_bronze if total_bronze else 0.0
    return [
        UNIQUE.outcome(rows == ids, {"rows": rows, "distinct_event_ids": ids}),
        NOT_NULL.outcome(nulls == 0, {"null_rows": nulls}),
        CONSERVATION.outcome(balanced, {"per_day": per_day}),
        QUARANTINE_RATE.outcome(rate <= QUARANTINE_RATE_WARN, {"rate": round(rate, 6), "quarantined": total_q, "bronze": total_bronze}),
    ]
