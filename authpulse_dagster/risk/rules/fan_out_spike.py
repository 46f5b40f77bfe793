"""fan_out_spike: far more distinct computers in the last hour than the user ever reaches.

Why: lateral movement and scanning touch many hosts quickly; an ordinary
account, even a busy one, reaches a stable handful per hour. The user's own
history sets the bar, so service accounts that legitimately touch hundreds of
hosts are judged against themselves.

For each event: distinct computers of the user in the trailing hour. Fires
when that is at least ``max(min_count, median + z * 1.4826 * MAD, 1.5 * median)`` of the
user's daily peak hourly distinct computers (``user_behavior`` 1h windows)
over the lookback. Parameters: ``fan_out`` (window 3600 s, min_count 8, z 6,
min_scale 1, min_ratio 1.5, min_baseline_days 5).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from authpulse_dagster.risk.inputs import RiskInputs
from authpulse_dagster.risk.rules.base import Rule
from authpulse_dagster.risk.rules.spike import spike_hits, trailing


def detect(inputs: RiskInputs) -> DataFrame:
    params = inputs.config.fan_out
    current = F.size(F.collect_set("computer_id").over(trailing(params)))
    return spike_hits(inputs, current, params, "1h", "distinct_computers")


RULE = Rule("fan_out_spike", "distinct computers in the last hour far above the user's baseline", detect)
