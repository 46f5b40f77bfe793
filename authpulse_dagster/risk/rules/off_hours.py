"""off_hours: activity in an hour of the day the user is almost never active.

Why: people keep hours; an account working at 03:00 when its owner never
does is a classic sign of someone else at the keyboard (or a different time
zone, which is why the weight is low). The profile is the user's own, so
night-shift staff and around-the-clock services are not flagged.

For each event: the share of the user's active days (lookback) on which they
were active in the event's UTC hour (``user_behavior`` 1h windows). Fires
when that share is at most ``off_hours.max_share`` and the user has at least
``off_hours.min_active_days`` active days. Parameters: ``off_hours``
(max_share 0.05, min_active_days 5).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from authpulse_dagster.risk.inputs import RiskInputs, for_target_days
from authpulse_dagster.risk.rules.base import Rule


def detect(inputs: RiskInputs) -> DataFrame:
    params = inputs.config.off_hours
    lookback = inputs.config.history.lookback_days
    active = (
        for_target_days(inputs.behavior.where(F.col("window") == "1d"), inputs.target_days, lookback)
        .groupBy("user_id", "day")
        .agg(F.count(F.lit(1)).alias("active_days"))
        .where(F.col("active_days") >= params.min_active_days)
    )
    hours = (
        for_target_days(inputs.behavior.where(F.col("window") == "1h"), inputs.target_days, lookback)
        .groupBy("user_id", "day", F.hour("window_start").alias("event_hour"))
        .agg(F.countDistinct("event_date").alias("days_at_hour"))
    )
    events = inputs.events.select("event_id", "user_id", F.col("event_date").alias("day"), "event_hour")
    return (
        events.join(active, ["user_id", "day"])
        .join(hours, ["user_id", "day", "event_hour"], "left")
        .where(F.coalesce(F.col("days_at_hour"), F.lit(0)) <= F.col("active_days") * params.max_share)
        .select("event_id")
    )


RULE = Rule("off_hours", "active in an hour the user is almost never active", detect)
