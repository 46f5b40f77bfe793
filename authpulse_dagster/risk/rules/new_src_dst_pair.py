"""new_src_dst_pair (LANL 2015): the user authenticates from a source computer they never start from.

Why: people log on from their own workstation (services from their own
hosts). Credentials showing up on a source→destination route that starts at
a computer the user never used as a source mean they are being used
somewhere else: the typical trace of credential theft and pass-the-hash,
whether the destination is familiar or not. Local logons (source =
destination) are left out, and so are new routes from the user's usual
sources (a new destination is first_time_access's business).

Fires on the first event of each (user, source, destination) combination not
seen in the lookback (``user_route_daily``) whose source the user did not use
as a source in the lookback, on warm days. LANL 2014 data has no source
computer, so the rule never fires there.
Parameters: ``history.lookback_days`` (30), ``history.min_history_days`` (7).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from authpulse_dagster.risk.inputs import RiskInputs, first_uses, for_target_days
from authpulse_dagster.risk.rules.base import Rule


def detect(inputs: RiskInputs) -> DataFrame:
    lookback = inputs.config.history.lookback_days
    usual_sources = (
        for_target_days(inputs.routes.select("user_id", "src_computer_id", "event_date"), inputs.target_days, lookback)
        .select("user_id", "src_computer_id", F.col("day").alias("event_date"))
        .distinct()
    )
    return (
        first_uses(inputs, inputs.routes, ["src_computer_id", "computer_id"])
        .where(F.col("src_computer_id") != F.col("computer_id"))
        .join(usual_sources, ["user_id", "src_computer_id", "event_date"], "left_anti")
        .select("event_id")
    )


RULE = Rule("new_src_dst_pair", "source→destination route from a source new for this user", detect)
