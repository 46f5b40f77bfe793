"""first_time_access: the user authenticates to a computer they have not used within the lookback.

Why: accounts have habits; an attacker with stolen credentials goes where the
owner never goes. On its own it is weak evidence (people do start using new
servers), so its weight is low and it mostly strengthens other rules.

Fires on the first event of each new (user, computer) pair of a day, only
once the site has ``history.min_history_days`` of history.
Parameters: ``history.lookback_days`` (30), ``history.min_history_days`` (7).
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from authpulse_dagster.risk.inputs import RiskInputs, first_uses
from authpulse_dagster.risk.rules.base import Rule


def detect(inputs: RiskInputs) -> DataFrame:
    return first_uses(inputs, inputs.pairs, ["computer_id"]).select("event_id")


RULE = Rule("first_time_access", "computer not used by this user within the lookback", detect)
