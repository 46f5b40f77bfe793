"""Rule hits → event scores → daily user scores → alerts, as pure functions on DataFrames.

The formulas are described in ``risk/config.py``; this module only applies
them. Timestamps that depend on the wall clock (``created_at``,
``updated_at``) are parameters, so the same inputs give the same rows.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import Window
from pyspark.sql import functions as F

from authpulse_dagster.risk.config import RiskConfig
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


def user_risk_daily(days: DataFrame, earlier_day_scores: DataFrame, config: RiskConfig) -> DataFrame:
    """Add the decayed ``risk_score`` to :func:`day_summaries` rows.

    ``earlier_day_scores`` (``user_id, event_date, day_score``) covers the
    ``decay_window_days`` before the first day, from ``user_risk_daily``.
    """
    window = config.decay_window_days
    pool = days.select("user_id", "event_date", "day_score").unionByName(
        earlier_day_scores.select("user_id", "event_date", "day_score").join(
            days.select("event_date").distinct(), "event_date", "left_anti"
        )
    )
    # Named apart: both sides descend from ``days``, and Spark would read user_id == user_id as always true.
    pool = pool.select(F.col("user_id").alias("p_user"), F.col("event_date").alias("d"), F.col("day_score").alias("s"))
    target = days.select("user_id", "event_date")
    decayed = (
        target.join(
            pool,
            (F.col("user_id") == F.col("p_user"))
            & (F.col("d") <= F.col("event_date"))
            & (F.col("d") > F.date_sub(F.col("event_date"), window)),
        )
        .groupBy("user_id", "event_date")
        .agg(F.sum(F.col("s") * F.pow(F.lit(config.decay), F.datediff(F.col("event_date"), F.col("d")))).alias("decayed"))
    )
    return days.join(decayed, ["user_id", "event_date"], "left").select(
        "user_id",
        "event_date",
        F.least(F.coalesce("decayed", F.lit(0.0)), F.lit(100.0)).alias("risk_score"),
        "day_score",
        "max_event_score",
        "high_risk_events",
        "events",
        "top_reasons",
        F.lit(config.model_version).alias("model_version"),
    )


def severity(score: F.Column, config: RiskConfig) -> F.Column:
    return (
        F.when(score >= config.alert_critical, "critical")
        .when(score >= config.alert_high, "high")
        .when(score >= config.alert_medium, "medium")
    )


def _rank(col: F.Column) -> F.Column:
    return F.when(col == "critical", 3).when(col == "high", 2).when(col == "medium", 1).otherwise(0)


def alerts(
    daily: DataFrame,
    scores: DataFrame,
    existing: DataFrame,
    config: RiskConfig,
    now: datetime,
    earlier_daily: DataFrame | None = None,
) -> DataFrame:
    """One alert per user and window whose risk score crossed ``alert_medium`` with something new.

    A day whose score is only yesterday's risk decaying (``day_score == 0``)
    raises nothing, and neither does a day within ``alert_window_days`` of an
    alert of the same or higher severity for the user (still open); a higher
    severity does raise one. ``earlier_daily`` holds ``user_risk_daily`` rows
    of the window before the first day. ``existing`` (the alerts table for the
    same days) keeps ``created_at`` stable when a day is rebuilt.
    """
    candidates = daily.where((F.col("risk_score") >= config.alert_medium) & (F.col("day_score") > 0)).withColumn(
        "sev_rank", _rank(severity(F.col("risk_score"), config))
    )
    if earlier_daily is not None:
        before = earlier_daily.join(daily.select("event_date").distinct(), "event_date", "left_anti")
        before = before.where((F.col("risk_score") >= config.alert_medium) & (F.col("day_score") > 0))
        pool = candidates.select("user_id", "event_date", "sev_rank").unionByName(
            before.select("user_id", "event_date", _rank(severity(F.col("risk_score"), config)).alias("sev_rank"))
        )
    else:
        pool = candidates.select("user_id", "event_date", "sev_rank")
    # Windows are judged on the flagged days themselves, so batch (a range) and
    # stream (day by day) suppress the same days.
    recent = Window.partitionBy("user_id").orderBy(F.datediff(F.col("event_date"), F.lit("2000-01-01"))).rangeBetween(
        -(config.alert_window_days - 1), -1
    )
    open_rank = pool.withColumn("open_rank", F.coalesce(F.max("sev_rank").over(recent), F.lit(0)))
    flagged = candidates.join(
        open_rank.where(F.col("sev_rank") > F.col("open_rank")).select("user_id", "event_date"), ["user_id", "event_date"], "left_semi"
    )
    by_score = Window.partitionBy("user_id", "event_date").orderBy(F.desc("score"), "event_ts", "event_id")
    evidence = (
        scores.where(F.col("score") > config.day_event_floor)
        .join(flagged.select("user_id", "event_date"), ["user_id", "event_date"], "left_semi")
        .withColumn("rank", F.row_number().over(by_score))
        .groupBy("user_id", "event_date")
        .agg(
            F.min("event_ts").alias("first_event_ts"),
            F.max("event_ts").alias("last_event_ts"),
            F.sort_array(F.collect_list(F.struct("rank", "event_id"))).alias("ranked"),
        )
        .select(
            "user_id",
            "event_date",
            "first_event_ts",
            "last_event_ts",
            F.slice(F.transform("ranked", lambda x: x["event_id"]), 1, config.alert_max_event_ids).alias("event_ids"),
        )
    )
    alert_id = F.substring(F.sha2(F.concat_ws("|", F.lit("alert"), "user_id", F.col("event_date").cast("string")), 256), 1, 24)
    known = existing.select("alert_id", F.col("created_at").alias("known_created_at"))
    return (
        flagged.join(evidence, ["user_id", "event_date"])
        .withColumn("alert_id", alert_id)
        .join(known, "alert_id", "left")
        .select(
            "alert_id",
            "user_id",
            "event_date",
            F.coalesce("known_created_at", F.lit(now).cast("timestamp")).alias("created_at"),
            severity(F.col("risk_score"), config).alias("severity"),
            F.col("risk_score").alias("score"),
            F.col("top_reasons").alias("reasons"),
            "first_event_ts",
            "last_event_ts",
            "event_ids",
            F.lit(now).cast("timestamp").alias("updated_at"),
            F.lit(config.model_version).alias("model_version"),
        )
    )
