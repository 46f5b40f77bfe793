"""failed_logon_burst (LANL 2015): many failed logons by one user within minutes.

Why: password guessing and spraying produce runs of failures; a person who
mistypes a password fails a few times, not dozens. LANL 2014 data has only
successes, so the rule never fires there.

For each failed event: the user's failures in the trailing window. Fires on
failures once that count reaches ``failed_logons.min_failures``.
Parameters: ``failed_logons`` (window_seconds 300, min_failures 10).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import Window
from pyspark.sql import functions as F

from authpulse_dagster.risk.inputs import RiskInputs
from authpulse_dagster.risk.rules.base import Rule


def detect(inputs: RiskInputs) -> DataFrame:
    params = inputs.config.failed_logons
    w = Window.partitionBy("user_id").orderBy(F.col("event_ts").cast("long")).rangeBetween(-(params.window_seconds - 1), 0)
    failures = inputs.events.where(~F.col("success"))
    return (
        failures.withColumn("n", F.count(F.lit(1)).over(w))
        .where(F.col("n") >= params.min_failures)
        .select("event_id")
    )


RULE = Rule("failed_logon_burst", "many failed logons within minutes", detect)
