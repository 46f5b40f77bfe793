"""new_or_dormant_account: an account never seen in the lookback, or silent far longer than usual, becomes active.

What: fires on every event of the user's first day back when the user was
silent on at least ``dormant.dormant_days`` days before it (dormant if active
earlier in the lookback, new if never), or on at least
``dormant.min_gap_days`` days that are ``dormant.gap_ratio`` times the longest
silence the account had before (judged once it has
``dormant.min_active_days`` active days), on warm days only.

Why: attackers favour accounts nobody watches: leftovers of people who left,
test accounts, freshly created ones. A fixed week of silence misses the
account that works every day, goes quiet for five, and wakes at the hands of
someone else; measuring the silence against the account's own longest gap
catches it and still leaves alone the account that is always irregular.

Anchor: Elastic's ML ``suspicious_login_activity`` / new-terms on user
(first activity in the window); the relative gap is this project's.
Parameters: ``dormant`` (dormant_days 7, min_gap_days 4, gap_ratio 2.0,
min_active_days 4), ``history`` (lookback 30, min_history_days 7).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from authpulse_dagster.risk.inputs import RiskInputs, for_target_days
from authpulse_dagster.risk.rules.base import Rule


def detect(inputs: RiskInputs) -> DataFrame:
    params = inputs.config.dormant
    lookback = inputs.config.history.lookback_days
    active = for_target_days(
        inputs.behavior.where(F.col("window") == "1d").select("user_id", "event_date"), inputs.target_days, lookback
    )
    by_date = Window.partitionBy("user_id", "day").orderBy("event_date")
    gaps = active.withColumn("gap", F.datediff("event_date", F.lag("event_date").over(by_date)) - 1)
    profile = gaps.groupBy("user_id", "day").agg(
        F.max("event_date").alias("last_active"),
        F.coalesce(F.max("gap"), F.lit(0)).alias("longest_gap"),
        F.count(F.lit(1)).alias("active_days"),
    )
    # The whole first day back counts: what a woken account does that day is the evidence.
    events = inputs.events.select("event_id", "user_id", F.col("event_date").alias("day")).join(
        inputs.warm_days, "day", "left_semi"
    )
    silence = F.datediff("day", "last_active") - 1
    relative = (
        (F.col("active_days") >= params.min_active_days)
        & (silence >= params.min_gap_days)
        & (silence >= params.gap_ratio * F.col("longest_gap"))
    )
    return (
        events.join(profile, ["user_id", "day"], "left")
        .where(F.col("last_active").isNull() | (silence >= params.dormant_days) | relative)
        .select("event_id")
    )


RULE = Rule("new_or_dormant_account", "first activity after a silence long for this account, or ever", detect)
