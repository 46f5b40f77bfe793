"""rare_host: the user newly accesses a computer that almost nobody uses.

Why: a computer used by one or two people is a personal workstation or a
special-purpose box; someone else's credentials showing up there is how
lateral movement and credential theft look. Popular servers are excluded by
construction, and so are the user's own regular hosts (only first uses count).

Fires on the first event of a new (user, computer) pair when the computer had
at most ``rare_host.max_users`` distinct users over the lookback ending that
day (``host_popularity.distinct_users_lookback``).
Parameters: ``rare_host.max_users`` (3), plus the lookback of first_time_access.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from authpulse_dagster.risk.inputs import RiskInputs, first_uses
from authpulse_dagster.risk.rules.base import Rule


def detect(inputs: RiskInputs) -> DataFrame:
    rare = inputs.hosts.where(F.col("distinct_users_lookback") <= inputs.config.rare_host.max_users).select(
        "computer_id", "event_date"
    )
    return first_uses(inputs, inputs.pairs, ["computer_id"]).join(rare, ["computer_id", "event_date"]).select("event_id")


RULE = Rule("rare_host", "first access to a computer few users use", detect)
