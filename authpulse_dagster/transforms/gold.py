"""Silver → gold aggregates, as pure functions on DataFrames.

``user_host_daily`` is the compact access history (one row per user,
computer and day); the lookback features read it instead of rescanning
silver. Windows are tumbling and aligned to the clock (UTC).
"""

from __future__ import annotations

from datetime import date
from typing import Iterable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

WINDOWS = {"5m": "5 minutes", "1h": "1 hour"}


def user_host_daily(events: DataFrame) -> DataFrame:
    """Per user, computer and day: count and first/last time."""
    return events.groupBy("user_id", "computer_id", "event_date").agg(
        F.count(F.lit(1)).alias("events"),
        F.min("event_ts").alias("first_seen"),
        F.max("event_ts").alias("last_seen"),
    )


def user_route_daily(events: DataFrame) -> DataFrame:
    """Per user, source computer, destination computer and day (rows with a source only: LANL 2015)."""
    return (
        events.where(F.col("src_computer_id").isNotNull())
        .groupBy("user_id", "src_computer_id", "computer_id", "event_date")
        .agg(
            F.count(F.lit(1)).alias("events"),
            F.sum((~F.col("success")).cast("long")).alias("failures"),
            F.min("event_ts").alias("first_seen"),
            F.max("event_ts").alias("last_seen"),
        )
    )


def new_pairs(pairs: DataFrame, days: Iterable[date], lookback_days: int) -> DataFrame:
    """Pairs on ``days`` whose user had not used that computer in the ``lookback_days`` before.

    ``pairs`` is ``user_host_daily`` covering at least the lookback before the
    first day. Returns the day's pair rows with ``is_new``.
    """
    days = sorted(set(days))
    today = pairs.where(F.col("event_date").between(F.lit(days[0]), F.lit(days[-1]))).alias("t")
    history = pairs.select("user_id", "computer_id", F.col("event_date").alias("h_date")).alias("h")
    seen = (
        today.join(
            history,
            (F.col("t.user_id") == F.col("h.user_id"))
            & (F.col("t.computer_id") == F.col("h.computer_id"))
            & (F.col("h.h_date") < F.col("t.event_date"))
            & (F.col("h.h_date") >= F.date_sub(F.col("t.event_date"), lookback_days)),
            "left_semi",
        )
        .select("user_id", "computer_id", "event_date")
        .withColumn("seen_before", F.lit(True))
    )
    return (
        today.join(seen, ["user_id", "computer_id", "event_date"], "left")
        .withColumn("is_new", F.col("seen_before").isNull())
        .drop("seen_before")
    )


def user_behavior(events: DataFrame, pairs: DataFrame, days: Iterable[date], lookback_days: int) -> DataFrame:
    """Per user: one row per day ('1d') and per non-empty 5-minute and 1-hour window."""
    days = sorted(set(days))
    flagged = new_pairs(pairs, days, lookback_days)
    events = events.where(F.col("event_date").between(F.lit(days[0]), F.lit(days[-1])))

    daily = flagged.groupBy("user_id", "event_date").agg(
        F.sum("events").alias("events"),
        F.count(F.lit(1)).alias("distinct_computers"),
        F.sum(F.col("is_new").cast("long")).alias("new_computers"),
        F.min("first_seen").alias("first_seen"),
        F.max("last_seen").alias("last_seen"),
    )
    daily = daily.select(
        "user_id",
        "event_date",
        F.lit("1d").alias("window"),
        F.to_timestamp(F.col("event_date")).alias("window_start"),
        F.to_timestamp(F.date_add(F.col("event_date"), 1)).alias("window_end"),
        "events",
        "distinct_computers",
        "new_computers",
        "first_seen",
        "last_seen",
    )

    parts = [daily]
    for name, duration in WINDOWS.items():
        w = F.window("event_ts", duration)
        per_window = events.groupBy("user_id", w.alias("w")).agg(
            F.count(F.lit(1)).alias("events"),
            F.countDistinct("computer_id").alias("distinct_computers"),
            F.min("event_ts").alias("first_seen"),
            F.max("event_ts").alias("last_seen"),
        )
        # A new computer counts in the window holding its first use that day.
        new_in_window = (
            flagged.where("is_new")
            .groupBy("user_id", F.window("first_seen", duration).alias("w"))
            .agg(F.count(F.lit(1)).alias("new_computers"))
        )
        parts.append(
            per_window.join(new_in_window, ["user_id", "w"], "left").select(
                "user_id",
                F.to_date(F.col("w.start")).alias("event_date"),
                F.lit(name).alias("window"),
                F.col("w.start").alias("window_start"),
                F.col("w.end").alias("window_end"),
                "events",
                "distinct_computers",
                F.coalesce("new_computers", F.lit(0)).alias("new_computers"),
                "first_seen",
                "last_seen",
            )
        )
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out.withColumn("distinct_computers", F.col("distinct_computers").cast("long")).withColumn(
        "new_computers", F.col("new_computers").cast("long")
    )


def host_popularity(spark: SparkSession, pairs: DataFrame, days: Iterable[date], lookback_days: int) -> DataFrame:
    """Per computer and day: users that day, users over the lookback ending that day, and rarity."""
    days = sorted(set(days))
    target = spark.createDataFrame([(d,) for d in days], "day date")
    in_window = pairs.join(
        F.broadcast(target),
        F.col("event_date").between(F.date_sub(F.col("day"), lookback_days - 1), F.col("day")),
    )
    lookback = in_window.groupBy("computer_id", "day").agg(F.countDistinct("user_id").alias("distinct_users_lookback"))
    active = in_window.groupBy("day").agg(F.countDistinct("user_id").alias("active_users_lookback"))
    today = (
        pairs.where(F.col("event_date").between(F.lit(days[0]), F.lit(days[-1])))
        .groupBy("computer_id", "event_date")
        .agg(F.count(F.lit(1)).alias("distinct_users"), F.sum("events").alias("events"))
    )
    return (
        today.join(lookback.withColumnRenamed("day", "event_date"), ["computer_id", "event_date"])
        .join(active.withColumnRenamed("day", "event_date"), ["event_date"])
        .withColumn(
            "rarity",
            F.log((F.col("active_users_lookback") + 1) / (F.col("distinct_users_lookback") + 1)),
        )
        .select(
            "computer_id",
            "event_date",
            F.col("distinct_users").cast("long"),
            F.col("events").cast("long"),
            F.col("distinct_users_lookback").cast("long"),
            F.col("active_users_lookback").cast("long"),
            "rarity",
        )
    )
