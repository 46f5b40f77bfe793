"""campaign_shared_source (LANL 2015): several users start from the same unusual source computer on the same day.

What: the day's new routes (user, source, destination; source != destination)
whose source the user never started from in the lookback, grouped by source:
when at least ``campaign.min_users`` distinct users do so from one source
that started at most ``campaign.max_source_users`` users' remote logons in the
lookback (not a jump host or a service's home), fires on each of those first
route events.

Why: credential theft on a foothold shows as one machine suddenly
authenticating as many accounts (LANL's red team: one source computer as
30-50 users on a busy day, where a workstation shows a handful). Each account
shows a single new route, which new_src_dst_pair weighs weakly; the shared
source is the campaign.

Anchor: Elastic's entity risk scores hosts and users and pivots between them;
the new-source test is Elastic's ``auth_rare_source_ip_for_a_user``
(lateral movement). Thresholds are this project's. Parameters: ``campaign``
(min_users 3, max_source_users 3), ``history``.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from authpulse_dagster.risk.inputs import RiskInputs, first_uses, for_target_days
from authpulse_dagster.risk.rules.base import Rule


def detect(inputs: RiskInputs) -> DataFrame:
    params = inputs.config.campaign
    lookback = inputs.config.history.lookback_days
    remote = inputs.routes.where(F.col("src_computer_id") != F.col("computer_id"))
    history = for_target_days(remote.select("user_id", "src_computer_id", "event_date"), inputs.target_days, lookback)
    usual_sources = history.select("user_id", "src_computer_id", F.col("day").alias("event_date")).distinct()
    source_users = history.groupBy("src_computer_id", F.col("day").alias("event_date")).agg(
        F.countDistinct("user_id").alias("known_users")
    )
    new = (
        first_uses(inputs, inputs.routes, ["src_computer_id", "computer_id"])
        .where(F.col("src_computer_id") != F.col("computer_id"))
        .join(usual_sources, ["user_id", "src_computer_id", "event_date"], "left_anti")
    )
    shared = (
        new.groupBy("src_computer_id", "event_date")
        .agg(F.countDistinct("user_id").alias("users"))
        .join(source_users, ["src_computer_id", "event_date"], "left")
        .where((F.col("users") >= params.min_users) & (F.coalesce("known_users", F.lit(0)) <= params.max_source_users))
    )
    return new.join(shared, ["src_computer_id", "event_date"], "left_semi").select("event_id")


RULE = Rule("campaign_shared_source", "several users newly starting from one unusual source computer the same day", detect)
