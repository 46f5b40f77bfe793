"""new_host_spread: new computers piling up over several days, far above the user's own rate.

Why: a patient intruder spreads a few hosts a day to stay under per-hour
thresholds (fan_out_spike never fires). What gives it away is the total: an
account that normally meets one new computer every few days suddenly meets
two or three every day. Judged against the user's own daily rate, so heavy
explorers are not flagged for being themselves.

For each user and day: new computers (``user_behavior`` 1d ``new_computers``)
over the last ``spread.days`` days including today. Fires on the day's
first-time accesses when that total is at least
``max(min_new, ratio * (days * median daily new computers in the lookback + 1))``.
Parameters: ``spread`` (days 3, min_new 6, ratio 2.0), warm days only.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from authpulse_dagster.risk.inputs import RiskInputs, first_uses, for_target_days
from authpulse_dagster.risk.rules.base import Rule


def detect(inputs: RiskInputs) -> DataFrame:
    params = inputs.config.spread
    lookback = inputs.config.history.lookback_days
    daily = inputs.behavior.where(F.col("window") == "1d").select("user_id", "event_date", "new_computers")
    baseline = (
        for_target_days(daily, inputs.target_days, lookback)
        .groupBy("user_id", "day")
        .agg(F.median("new_computers").alias("median_new"))
    )
    recent = (
        daily.join(
            inputs.target_days,
            (F.col("event_date") <= F.col("day")) & (F.col("event_date") > F.date_sub(F.col("day"), params.days)),
        )
        .groupBy("user_id", "day")
        .agg(F.sum("new_computers").alias("recent_new"))
    )
    spreading = (
        recent.join(baseline, ["user_id", "day"])
        .where(
            F.col("recent_new")
            >= F.greatest(F.lit(float(params.min_new)), params.ratio * (params.days * F.col("median_new") + 1))
        )
        .select("user_id", F.col("day").alias("event_date"))
    )
    return first_uses(inputs, inputs.pairs, ["computer_id"]).join(spreading, ["user_id", "event_date"], "left_semi").select(
        "event_id"
    )


RULE = Rule("new_host_spread", "new computers over several days far above the user's own rate", detect)
