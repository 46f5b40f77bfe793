"""Rule hits → event scores → daily user scores, as pure functions on DataFrames (alerts: ``risk/budget.py``).

The formulas are described in ``risk/config.py``; this module only applies
them. Timestamps that depend on the wall clock (``created_at``,
``updated_at``) are parameters, so the same inputs give the same rows.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import Window
from pyspark.sql import functions as F

from authpulse_dagster.risk.config import RiskConfig
from authpulse_dagster.risk.decay import decayed_risk
from authpulse_dagster.risk.inputs import RiskInputs
from authpulse_dagster.risk.rules import RULES, Rule

TOP_REASONS = 3


def rule_hits(inputs: RiskInputs, rules: list[Rule] = RULES) -> DataFrame:
    """``event_id, reason`` for every rule that fired on an event."""
    parts = [rule.detect(inputs).select("event_id", F.lit(rule.name).alias("reason")) for rule in rules]
    hits = parts[0]
    for part in parts[1:]:
        hits = hits.unionByName(part)
    return hits.distinct()


def _weights(spark: SparkSession, config: RiskConfig, rules: list[Rule]) -> DataFrame:
    rows = [(r.name, float(config.weights[r.name]), i) for i, r in enumerate(rules)]
    return F.broadcast(spark.createDataFrame(rows, "reason string, weight double, rule_order int"))


def score_events(inputs: RiskInputs, hits: DataFrame, rules: list[Rule] = RULES) -> DataFrame:
    """One row per event of ``inputs.events`` with its score and reasons (strongest first)."""
    config = inputs.config
    weighted = hits.join(_weights(inputs.spark, config, rules), "reason")
    per_event = weighted.groupBy("event_id").agg(
        F.round(100 * (1 - F.exp(F.sum(F.log1p(-F.col("weight")))))).cast("int").alias("score"),
        F.sort_array(F.collect_list(F.struct(-F.col("weight"), F.col("rule_order"), F.col("reason")))).alias("ranked"),
    )
    return (
        inputs.events.join(per_event, "event_id", "left")
        .select(
            "event_id",
            "event_ts",
            "event_date",
            "user_id",
            "computer_id",
            "src_computer_id",
            F.coalesce("score", F.lit(0)).alias("score"),
            F.coalesce(F.transform("ranked", lambda x: x["reason"]), F.array().cast("array<string>")).alias("reasons"),
            F.lit(config.model_version).alias("model_version"),
        )
    )


def day_summaries(scores: DataFrame, config: RiskConfig) -> DataFrame:
    """Per user and day: the day score and what drove it (no decay yet)."""
    by_score = Window.partitionBy("user_id", "event_date").orderBy(F.desc("score"), "event_ts", "event_id")
    ranked = scores.withColumn("rank", F.row_number().over(by_score))
    contribution = F.when(F.col("rank") <= config.day_top_k, F.greatest(F.col("score") - config.day_event_floor, F.lit(0.0)))
    days = ranked.groupBy("user_id", "event_date").agg(
        F.coalesce(F.sum(contribution), F.lit(0.0)).cast("double").alias("day_score"),
        F.max("score").cast("int").alias("max_event_score"),
        F.sum((F.col("score") >= config.high_risk_event).cast("long")).alias("high_risk_events"),
        F.count(F.lit(1)).alias("events"),
    )
    # Reasons of the events that added to the day score, most frequent first.
    reasons = (
        ranked.where(F.col("score") > config.day_event_floor)
        .select("user_id", "event_date", F.explode("reasons").alias("reason"))
        .groupBy("user_id", "event_date", "reason")
        .count()
        .groupBy("user_id", "event_date")
        .agg(F.sort_array(F.collect_list(F.struct(-F.col("count"), F.col("reason")))).alias("r"))
        .select("user_id", "event_date", F.slice(F.transform("r", lambda x: x["reason"]), 1, TOP_REASONS).alias("top_reasons"))
    )
    return days.join(reasons, ["user_id", "event_date"], "left").withColumn(
        "top_reasons", F.coalesce("top_reasons", F.array().cast("array<string>"))
    )


def host_flow(host_daily: DataFrame, config: RiskConfig) -> DataFrame:
    """``user_id, event_date, host_flow``: a share of the riskiest host each user was new on that day (host to user flow).

    The host's day score counts its new users' evidence (``hosts.user_flow``
    of the strongest ``day_top_k``); what a user brought is taken out of the
    score that flows back to that user, or its own events would raise it a
    second time. Exact when the day score is under its cap of 100; at the
    cap it errs low.
    """
    # Rows written before related_evidence existed have none: their flow is the whole day score, as it was.
    own = F.when(
        F.col("pos") < config.day_top_k, F.coalesce(F.try_element_at("related_evidence", F.col("pos") + 1), F.lit(0.0))
    ).otherwise(F.lit(0.0))
    return (
        host_daily.where(F.col("day_score") > 0)
        .withColumn("related_evidence", F.coalesce("related_evidence", F.array().cast("array<double>")))
        .select("event_date", "day_score", "related_evidence", F.posexplode("related_users").alias("pos", "user_id"))
        .withColumn("without_own", F.greatest(F.lit(0.0), F.col("day_score") - config.hosts.user_flow * own))
        .groupBy("user_id", "event_date")
        .agg((F.max("without_own") * config.flow.host_to_user).alias("host_flow"))
        .where(F.col("host_flow") > 0)
    )


def user_risk_daily(
    days: DataFrame, earlier_day_scores: DataFrame, config: RiskConfig, flow: DataFrame | None = None
) -> DataFrame:
    """Add the decayed ``risk_score`` to :func:`day_summaries` rows.

    ``earlier_day_scores`` (``user_id, event_date, day_score``) covers the
    ``decay_window_days`` before the first day, from ``user_risk_daily``.
    ``flow`` (:func:`host_flow`) adds to a user's day score the risk of the
    hosts they were new on; its reason is ``risky_host``.
    """
    if flow is not None:
        days = (
            days.join(flow, ["user_id", "event_date"], "left")
            .withColumn("host_flow", F.coalesce("host_flow", F.lit(0.0)))
            .withColumn("day_score", F.col("day_score") + F.col("host_flow"))
            .withColumn(
                "top_reasons",
                F.when(
                    F.col("host_flow") > 0,
                    F.slice(F.concat(F.array(F.lit("risky_host")), F.col("top_reasons")), 1, TOP_REASONS),
                ).otherwise(F.col("top_reasons")),
            )
        )
    return decayed_risk(days, earlier_day_scores, "user_id", config).select(
        "user_id",
        "event_date",
        "risk_score",
        F.col("day_score").cast("double"),
        "max_event_score",
        "high_risk_events",
        "events",
        "top_reasons",
        F.lit(config.model_version).alias("model_version"),
    )
