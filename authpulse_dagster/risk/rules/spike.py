"""What fan_out_spike and velocity_spike share: a trailing count against the user's own peaks."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import Window
from pyspark.sql import functions as F

from authpulse_dagster.risk.config import SpikeParams
from authpulse_dagster.risk.inputs import RiskInputs, daily_peaks, robust_baseline


def trailing(params: SpikeParams) -> Window:
    """Per user, the events in the ``window_seconds`` up to and including this one."""
    return (
        Window.partitionBy("user_id")
        .orderBy(F.col("event_ts").cast("long"))
        .rangeBetween(-(params.window_seconds - 1), 0)
    )


def spike_hits(inputs: RiskInputs, current: Column, params: SpikeParams, window: str, measure: str) -> DataFrame:
    """Events whose trailing ``current`` value is far above the user's daily peaks of ``measure``.

    Threshold: ``max(min_count, median + z * max(1.4826 * MAD, min_scale), min_ratio * median)``
    over the user's daily peaks (per ``window`` windows of ``user_behavior``)
    in the lookback; users with fewer than ``min_baseline_days`` active days
    are not judged (new accounts have their own rule).
    """
    lookback = inputs.config.history.lookback_days
    baseline = robust_baseline(daily_peaks(inputs.behavior, window, measure), inputs.target_days, lookback)
    baseline = baseline.where(F.col("history_days") >= params.min_baseline_days).withColumn(
        "threshold",
        F.greatest(
            F.lit(float(params.min_count)),
            F.col("median") + params.z * F.greatest(F.col("mad") * 1.4826, F.lit(params.min_scale)),
            F.col("median") * params.min_ratio,
        ),
    )
    valued = inputs.events.select("event_id", "user_id", "event_date", current.alias("x"))
    return (
        valued.join(baseline.withColumnRenamed("day", "event_date"), ["user_id", "event_date"])
        .where(F.col("x") >= F.col("threshold"))
        .select("event_id")
    )
