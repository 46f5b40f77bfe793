"""slow_novelty: new computers accumulated over days, with decay, far above the user's own and peers' rate.

What: per user and day, the decayed sum A of new computers (``user_behavior``
1d ``new_computers``) over the last ``novelty.horizon_days`` days,
``A = sum new(d - a) * decay ** a``. The expected sum at a rate r is
``r * sum decay ** a``, with r = max(the user's median daily new computers,
the mean of their peer group's medians) over the lookback. Fires on the
day's first uses when ``A >= max(min_accumulated, ratio * expected + margin)``.
Peers are the users whose main shared computer (the one they use most among
those with at least ``shared_host_min_users`` users) is the same, with at least
``min_peers`` members; without a group, the user's own rate alone.

Why: a patient intruder adds a couple of hosts a day, under every daily
threshold and under new_host_spread's three-day window; what gives it away is
the sum over a week. The user's own rate alone is a poor yardstick for people
with little history or who rarely explore, so the rate of the people who work
on the same servers sets the bar too (heavy explorers in an exploring team
are not flagged for being themselves).

Anchor: Sentinel's peer analytics (UserPeerAnalytics: peers from shared group
membership, "uncommon among peers"); accumulation with decay as in Splunk's
risk-based alerting over a 7-day window. Parameters: ``novelty`` (decay 0.75,
horizon_days 7, min_accumulated 4, ratio 2.5, margin 1.5, min_peers 3,
shared_host_min_users 3), warm days only.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from authpulse_dagster.risk.inputs import RiskInputs, first_uses, for_target_days
from authpulse_dagster.risk.rules.base import Rule


def peer_groups(inputs: RiskInputs) -> DataFrame:
    """``user_id, day, group``: each user's main shared computer over the lookback before the day."""
    params = inputs.config.novelty
    lookback = inputs.config.history.lookback_days
    hist = for_target_days(inputs.pairs.select("user_id", "computer_id", "event_date", "events"), inputs.target_days, lookback)
    host_users = hist.groupBy("computer_id", "day").agg(F.countDistinct("user_id").alias("users")).where(
        F.col("users") >= params.shared_host_min_users
    )
    use = hist.groupBy("user_id", "computer_id", "day").agg(F.sum("events").alias("events")).join(host_users, ["computer_id", "day"])
    best = Window.partitionBy("user_id", "day").orderBy(F.desc("events"), "computer_id")
    return use.withColumn("r", F.row_number().over(best)).where("r = 1").select("user_id", "day", F.col("computer_id").alias("group"))


def detect(inputs: RiskInputs) -> DataFrame:
    params = inputs.config.novelty
    lookback = inputs.config.history.lookback_days
    daily = inputs.behavior.where(F.col("window") == "1d").select("user_id", "event_date", "new_computers")
    history = for_target_days(daily, inputs.target_days, lookback)
    # Medians, for peers too: the first days of a dataset (everything new) and an intruder's own
    # recent days must not lift the bar they are judged against.
    own = history.groupBy("user_id", "day").agg(F.median("new_computers").alias("own_rate"))
    groups = peer_groups(inputs)
    members = groups.groupBy("group", "day").agg(F.count(F.lit(1)).alias("members")).where(F.col("members") >= params.min_peers)
    peer_rate = (
        groups.join(members, ["group", "day"])
        .join(own, ["user_id", "day"])
        .groupBy("group", "day")
        .agg(F.avg("own_rate").alias("peer_rate"))
    )
    rates = (
        own.join(groups, ["user_id", "day"], "left")
        .join(peer_rate, ["group", "day"], "left")
        .select("user_id", "day", F.greatest(F.col("own_rate"), F.coalesce("peer_rate", F.lit(0.0))).alias("rate"))
    )
    recent = (
        daily.join(
            inputs.target_days,
            (F.col("event_date") <= F.col("day")) & (F.col("event_date") > F.date_sub(F.col("day"), params.horizon_days)),
        )
        .groupBy("user_id", "day")
        .agg(F.sum(F.col("new_computers") * F.pow(F.lit(params.decay), F.datediff("day", "event_date"))).alias("accumulated"))
    )
    horizon = sum(params.decay**a for a in range(params.horizon_days))
    spreading = (
        recent.join(rates, ["user_id", "day"])
        .where(
            F.col("accumulated")
            >= F.greatest(F.lit(params.min_accumulated), params.ratio * horizon * F.col("rate") + params.margin)
        )
        .join(inputs.warm_days, "day", "left_semi")
        .select("user_id", F.col("day").alias("event_date"))
    )
    return first_uses(inputs, inputs.pairs, ["computer_id"]).join(spreading, ["user_id", "event_date"], "left_semi").select("event_id")


RULE = Rule("slow_novelty", "new computers accumulated over a week far above own and peers' rate", detect)
