"""new_or_dormant_account: an account never seen in the lookback, or silent for days, becomes active.

Why: attackers favour accounts nobody watches: leftovers of people who left,
test accounts, freshly created ones. A first sign of life after a long
silence (or ever) deserves a look, especially combined with odd hours or new
computers.

Fires on every event of the user's first day back when the user had no
activity on the ``dormant.dormant_days`` days before it (dormant if they had activity earlier
in the lookback, new if none at all), only on warm days (enough site history).
Parameters: ``dormant.dormant_days`` (7), ``history.lookback_days`` (30),
``history.min_history_days`` (7).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from authpulse_dagster.risk.inputs import RiskInputs, for_target_days
from authpulse_dagster.risk.rules.base import Rule


def detect(inputs: RiskInputs) -> DataFrame:
    dormant_days = inputs.config.dormant.dormant_days
    lookback = inputs.config.history.lookback_days
    last_active = (
        for_target_days(inputs.behavior.where(F.col("window") == "1d"), inputs.target_days, lookback)
        .groupBy("user_id", "day")
        .agg(F.max("event_date").alias("last_active"))
    )
    # The whole first day back counts: what a woken account does that day is the evidence.
    events = inputs.events.select("event_id", "user_id", F.col("event_date").alias("day")).join(
        inputs.warm_days, "day", "left_semi"
    )
    return (
        events.join(last_active, ["user_id", "day"], "left")
        .where(F.col("last_active").isNull() | (F.col("last_active") < F.date_sub(F.col("day"), dormant_days)))
        .select("event_id")
    )


RULE = Rule("new_or_dormant_account", "first activity after a long silence, or ever", detect)
