"""new_src_dst_pair (LANL 2015): the user authenticates from a source computer to a destination in a new combination.

Why: even when the destination is one the user always uses, reaching it from
a computer they never started from means the credentials are being used
somewhere else: the typical trace of credential theft and pass-the-hash.
Local logons (source = destination) are left out.

Fires on the first event of each (user, source, destination) combination not
seen in the lookback (``user_route_daily``), on warm days. LANL 2014 data has
no source computer, so the rule never fires there.
Parameters: ``history.lookback_days`` (30), ``history.min_history_days`` (7).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from authpulse_dagster.risk.inputs import RiskInputs, first_uses
from authpulse_dagster.risk.rules.base import Rule


def detect(inputs: RiskInputs) -> DataFrame:
    return (
        first_uses(inputs, inputs.routes, ["src_computer_id", "computer_id"])
        .where(F.col("src_computer_id") != F.col("computer_id"))
        .select("event_id")
    )


RULE = Rule("new_src_dst_pair", "source→destination combination new for this user", detect)
