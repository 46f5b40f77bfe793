"""velocity_spike: far more authentications in five minutes than the user ever makes.

Why: automated tools (password spraying, scripted remote execution) run at
machine speed; people and their usual services do not suddenly multiply
their rate. Judged against the user's own daily 5-minute peaks.

For each event: the user's events in the trailing 5 minutes. Fires when that
is at least ``max(min_count, median + z * 1.4826 * MAD, 1.5 * median)`` of the user's daily
peak 5-minute counts (``user_behavior`` 5m windows) over the lookback.
Parameters: ``velocity`` (window 300 s, min_count 25, z 6, min_scale 1,
min_baseline_days 5).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from authpulse_dagster.risk.inputs import RiskInputs
from authpulse_dagster.risk.rules.base import Rule
from authpulse_dagster.risk.rules.spike import spike_hits, trailing


def detect(inputs: RiskInputs) -> DataFrame:
    params = inputs.config.velocity
    current = F.count(F.lit(1)).over(trailing(params))
    return spike_hits(inputs, current, params, "5m", "events")


RULE = Rule("velocity_spike", "events in 5 minutes far above the user's baseline", detect)
