"""campaign_rare_host: several users reach the same rare computer for the first time on the same day.

What: first uses (user, computer) of a day, on a computer that had at most
``campaign.max_host_users`` users in the lookback before today, when at
least ``campaign.min_users`` distinct users make such a first use that day.
Fires on each of those first uses. Both formats (it needs only user and
destination).

Why: one stolen account reaching a rare host is weak evidence (people do
explore); an intruder holding several accounts tends to use them against the
same few targets, so a rare host suddenly visited by three newcomers is a
campaign, stronger evidence than any one of them. Judging each user alone
misses it.

Anchor: Splunk risk-based alerting's risk objects accumulate across the
entities an attack touches (a system seen with several risky users); the
first-use test is Elastic's *new terms* on (user, host). The thresholds are
this project's. Parameters: ``campaign`` (min_users 3, max_host_users 6),
``history`` (lookback, warm days).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from authpulse_dagster.risk.inputs import RiskInputs, first_uses
from authpulse_dagster.risk.rules.base import Rule


def detect(inputs: RiskInputs) -> DataFrame:
    params = inputs.config.campaign
    new = first_uses(inputs, inputs.pairs, ["computer_id"])
    per_host = new.groupBy("computer_id", "event_date").agg(F.countDistinct("user_id").alias("newcomers"))
    # host_popularity counts the lookback ending today, newcomers included: take them out.
    rare = (
        inputs.hosts.select("computer_id", "event_date", "distinct_users_lookback")
        .join(per_host, ["computer_id", "event_date"])
        .where(
            (F.col("newcomers") >= params.min_users)
            & (F.col("distinct_users_lookback") - F.col("newcomers") <= params.max_host_users)
        )
        .select("computer_id", "event_date")
    )
    return new.join(rare, ["computer_id", "event_date"], "left_semi").select("event_id")


RULE = Rule("campaign_rare_host", "several users new to the same rare computer the same day", detect)
