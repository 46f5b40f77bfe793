"""The decaying risk score every entity (user, host) carries from day to day.

risk(d) = min(100, sum over the last ``decay_window_days`` days d' <= d of
day_score(d') * decay ** (d - d')): a slow attack accumulates, one odd day
fades. The days of the current range come from ``days``; days before it from
``earlier`` (the stored table), so a range and day-by-day runs agree.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from authpulse_dagster.risk.config import RiskConfig


def decayed_risk(days: DataFrame, earlier: DataFrame, key: str, config: RiskConfig) -> DataFrame:
    """``days`` (``key, event_date, day_score, ...``) plus ``risk_score``."""
    window = config.decay_window_days
    pool = days.select(key, "event_date", "day_score").unionByName(
        earlier.select(key, "event_date", "day_score").join(days.select("event_date").distinct(), "event_date", "left_anti")
    )
    # Named apart: both sides descend from ``days``, and Spark would read key == key as always true.
    pool = pool.where(F.col("day_score") > 0).select(
        F.col(key).alias("p_key"), F.col("event_date").alias("d"), F.col("day_score").alias("s")
    )
    target = days.select(key, "event_date")
    decayed = (
        target.join(
            pool,
            (F.col(key) == F.col("p_key")) & (F.col("d") <= F.col("event_date")) & (F.col("d") > F.date_sub(F.col("event_date"), window)),
        )
        .groupBy(key, "event_date")
        .agg(F.sum(F.col("s") * F.pow(F.lit(config.decay), F.datediff(F.col("event_date"), F.col("d")))).alias("decayed"))
    )
    return days.join(decayed, [key, "event_date"], "left").withColumn(
        "risk_score", F.least(F.coalesce("decayed", F.lit(0.0)), F.lit(100.0))
    ).drop("decayed")
