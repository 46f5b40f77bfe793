"""What the rules look at: the days' events plus history from the gold tables.

Rules never rescan silver for history. "Seen before", baselines and hour
profiles come from the compact gold tables (``user_host_daily``,
``user_route_daily``, ``user_behavior``, ``host_popularity``), read for the
lookback before the first scored day. Every rule scores a whole range of days
in one pass: history rows are joined to each target day they precede
(:func:`for_target_days`), so a 14-day backfill is one Spark plan, not 14.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from authpulse_dagster.risk.config import RiskConfig


@dataclass
class RiskInputs:
    """The days being scored and the DataFrames the rules read.

    ``events``: auth_events rows of ``days``. ``pairs`` (user_host_daily),
    ``behavior`` (user_behavior) and ``routes`` (user_route_daily): rows from
    ``lookback`` days before the first day through the last day.
    ``hosts``: host_popularity rows of ``days``.
    """

    spark: SparkSession
    days: list[date]
    events: DataFrame
    pairs: DataFrame
    behavior: DataFrame
    hosts: DataFrame
    routes: DataFrame
    config: RiskConfig = field(default_factory=RiskConfig)

    def __post_init__(self) -> None:
        self.days = sorted(set(self.days))

    @cached_property
    def target_days(self) -> DataFrame:
        return F.broadcast(self.spark.createDataFrame([(d,) for d in self.days], "day date"))

    @cached_property
    def warm_days(self) -> DataFrame:
        """Target days with at least ``min_history_days`` days of site history before them.

        On the first days of a dataset everyone and everything is "new"; rules
        that compare with history stay quiet until there is enough of it.
        """
        h = self.config.history
        site_days = self.behavior.where(F.col("window") == "1d").select("event_date").distinct()
        counted = for_target_days(site_days, self.target_days, h.lookback_days).groupBy("day").count()
        return F.broadcast(counted.where(F.col("count") >= h.min_history_days).select("day"))


def for_target_days(history: DataFrame, target_days: DataFrame, lookback_days: int, date_col: str = "event_date") -> DataFrame:
    """Pair each history row with every target day it precedes within the lookback.

    The result has the history columns plus ``day``; rows dated ``day`` or
    later are not included (history means strictly before).
    """
    return history.join(
        target_days,
        (F.col(date_col) < F.col("day")) & (F.col(date_col) >= F.date_sub(F.col("day"), lookback_days)),
    )


def first_uses(inputs: RiskInputs, history: DataFrame, keys: list[str]) -> DataFrame:
    """The first event of each ``keys`` combination not seen in the lookback before its day.

    ``history`` has one row per user, ``keys`` and day (user_host_daily or
    user_route_daily). Only warm days count: before there is history,
    everything is new. Returns ``event_id, user_id, event_date`` plus ``keys``.
    """
    cols = ["user_id", *keys]
    lookback = inputs.config.history.lookback_days
    seen = (
        for_target_days(history.select(*cols, "event_date"), inputs.target_days, lookback)
        .select(*cols, F.col("day").alias("event_date"))
        .distinct()
    )
    today = (
        history.join(inputs.target_days, F.col("event_date") == F.col("day"))
        .join(inputs.warm_days, "day", "left_semi")
        .select(*cols, "event_date", "first_seen")
    )
    new = today.join(seen, [*cols, "event_date"], "left_anti")
    return (
        inputs.events.join(new, [*cols, "event_date"])
        .where(F.col("event_ts") == F.col("first_seen"))
        .select("event_id", "user_id", "event_date", *keys)
    )


def daily_peaks(behavior: DataFrame, window: str, measure: str) -> DataFrame:
    """Per user and day: the highest ``measure`` over that day's ``window`` windows."""
    return (
        behavior.where(F.col("window") == window)
        .groupBy("user_id", "event_date")
        .agg(F.max(measure).alias("peak"))
    )


def robust_baseline(peaks: DataFrame, target_days: DataFrame, lookback_days: int) -> DataFrame:
    """Per user and target day: median and MAD of the daily peaks in the lookback, and how many days."""
    history = for_target_days(peaks, target_days, lookback_days)
    med = history.groupBy("user_id", "day").agg(
        F.median("peak").alias("median"), F.count(F.lit(1)).alias("history_days")
    )
    mad = (
        history.join(med, ["user_id", "day"])
        .groupBy("user_id", "day")
        .agg(F.median(F.abs(F.col("peak") - F.col("median"))).alias("mad"))
    )
    return med.join(mad, ["user_id", "day"])
