"""The alert decision: users and hosts ranked by risk, alerted within the analysts' daily capacity.

What: each day, every user and host whose risk reaches ``budget.floor`` with
something new that day (``day_score > 0``) is a candidate. Candidates are
ranked together by risk (ties: the day's own score up to 100, the scale
hosts and users share; then hosts first, since a host alert names many users;
then a user's whole day score, uncapped: risk saturates at 100 on an attack
day, and the entity id must not be what decides between two saturated users), and the day gets at most
``max(1, floor(budget.per_1k_users * users / 1000))`` alerts, ``users`` being
the distinct users of the trailing ``budget.population_days``. Walking the
ranking, a candidate is skipped (without using the budget) when it already
has an open alert (within ``alert_window_days``) at the same or a higher
severity, unless it is a host naming at least ``campaign.min_users`` users
the open alerts did not; and a user named by a host alert of the window is
covered by it.

Why: an analyst team's capacity is alerts per day, not a score threshold;
fixed thresholds tuned on one data set alert too much on another and too
little on a third. The floor keeps a quiet day quiet: a budget is a ceiling,
never a quota.

Anchor: Splunk ES risk-based alerting (risk incident rules over risk objects
of type user or system, one notable per object and window) and Splunk's
percentile-normalised entity risk; Matano's / Panther's deduplication windows.
The budget per 1,000 users is the issue's target, made the decision.

The ranking is computed in Spark; the walk runs on the driver over at most
a few dozen candidates a day, in day order, reading the alerts of the days
before the range from the table, so a range and day-by-day runs (batch and
stream) decide the same alerts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import Window
from pyspark.sql import functions as F

from authpulse_dagster.risk.config import RiskConfig

SEVERITY_RANK = {"medium": 1, "high": 2, "critical": 3}
USER, HOST = "user", "host"


@dataclass(frozen=True)
class Candidate:
    entity_type: str
    entity_id: str
    event_date: date
    risk_score: float
    day_score: float
    related_users: tuple[str, ...]

    def severity(self, config: RiskConfig) -> str:
        return config.severity(self.risk_score) or "medium"


def daily_budget(users: int, config: RiskConfig) -> int:
    """Alerts allowed on a day with ``users`` users in the trailing population window (at least one)."""
    return max(1, math.floor(config.budget.per_1k_users * users / 1000.0))


def candidates(user_daily: DataFrame, host_daily: DataFrame | None, config: RiskConfig, days: list[date]) -> list[Candidate]:
    """The top of each day's ranking (a few times the largest budget), as plain rows."""
    floor = config.budget.floor
    users = user_daily.where(F.col("event_date").isin(days)).select(
        F.lit(USER).alias("entity_type"),
        F.col("user_id").alias("entity_id"),
        "event_date",
        "risk_score",
        "day_score",
        F.array().cast("array<string>").alias("related_users"),
    )
    pool = users
    if host_daily is not None:
        pool = pool.unionByName(
            host_daily.where(F.col("event_date").isin(days)).select(
                F.lit(HOST).alias("entity_type"),
                F.col("computer_id").alias("entity_id"),
                "event_date",
                "risk_score",
                "day_score",
                "related_users",
            )
        )
    order = Window.partitionBy("event_date").orderBy(
        F.desc("risk_score"), F.desc(F.least("day_score", F.lit(100.0))), F.desc(F.col("entity_type") == HOST),
        F.desc("day_score"), "entity_id",
    )
    keep = 4 * daily_budget(100_000, config) + 20  # enough for skipped (already open) candidates at any population
    rows = (
        pool.where((F.col("risk_score") >= floor) & (F.col("day_score") > 0))
        .withColumn("rank", F.row_number().over(order))
        .where(F.col("rank") <= keep)
        .collect()
    )
    out = [
        Candidate(r["entity_type"], r["entity_id"], r["event_date"], float(r["risk_score"]), float(r["day_score"]),
                  tuple(r["related_users"] or ()))
        for r in rows
    ]
    return sorted(out, key=lambda c: (c.event_date, -c.risk_score, -min(c.day_score, 100.0), c.entity_type != HOST,
                                      -c.day_score, c.entity_id))


@dataclass
class OpenAlert:
    entity_type: str
    entity_id: str
    event_date: date
    severity: str
    related_users: frozenset[str]


def decide(
    cands: list[Candidate], population: dict[date, int], earlier: list[OpenAlert], config: RiskConfig
) -> list[tuple[Candidate, str]]:
    """Walk each day's ranking in day order; return the (candidate, severity) pairs that become alerts."""
    window = config.alert_window_days
    opened = list(earlier)
    chosen: list[tuple[Candidate, str]] = []
    for day in sorted({c.event_date for c in cands}):
        budget = daily_budget(population.get(day, 0), config)
        recent = [a for a in opened if day - timedelta(days=window - 1) <= a.event_date < day]
        covered = {u for a in recent if a.entity_type == HOST for u in a.related_users}
        taken = 0
        for c in (c for c in cands if c.event_date == day):
            if taken >= budget:
                break
            sev = c.severity(config)
            mine = [a for a in recent if a.entity_type == c.entity_type and a.entity_id == c.entity_id]
            best = max((SEVERITY_RANK[a.severity] for a in mine), default=0)
            if c.entity_type == USER and c.entity_id in covered and not mine:
                continue  # a host alert of the window already names this user
            if mine and SEVERITY_RANK[sev] <= best:
                if c.entity_type == USER:
                    continue
                named = {u for a in mine for u in a.related_users}
                if len(set(c.related_users) - named) < config.campaign.min_users:
                    continue
            chosen.append((c, sev))
            taken += 1
            alert = OpenAlert(c.entity_type, c.entity_id, day, sev, frozenset(c.related_users))
            opened.append(alert)
            recent.append(alert)
            if c.entity_type == HOST:
                covered |= set(c.related_users)
    return chosen


def population(user_daily: DataFrame, earlier_daily: DataFrame, days: list[date], config: RiskConfig) -> dict[date, int]:
    """Distinct users over the trailing ``population_days`` of each day."""
    span = config.budget.population_days
    pool = user_daily.select("user_id", "event_date").unionByName(earlier_daily.select("user_id", "event_date")).distinct()
    spark = user_daily.sparkSession
    target = F.broadcast(spark.createDataFrame([(d,) for d in days], "day date"))
    counted = (
        pool.join(target, (F.col("event_date") <= F.col("day")) & (F.col("event_date") > F.date_sub(F.col("day"), span)))
        .groupBy("day")
        .agg(F.countDistinct("user_id").alias("n"))
        .collect()
    )
    return {r["day"]: int(r["n"]) for r in counted}


def open_alerts(rows: DataFrame) -> list[OpenAlert]:
    """Alerts already in the table (the days before the range), as the walk needs them."""
    out = []
    for r in rows.select("entity_type", "entity_id", "user_id", "event_date", "severity", "related_users").collect():
        out.append(OpenAlert(r["entity_type"] or USER, r["entity_id"] or r["user_id"], r["event_date"], r["severity"],
                             frozenset(r["related_users"] or ())))
    return out


def alert_rows(
    spark: SparkSession,
    chosen: list[tuple[Candidate, str]],
    user_daily: DataFrame,
    host_daily: DataFrame | None,
    scores: DataFrame,
    existing: DataFrame,
    config: RiskConfig,
    now: datetime,
) -> DataFrame:
    """The ``alerts`` rows of the chosen candidates, with their evidence events.

    A user alert's evidence is the user's events above ``day_event_floor``; a
    host alert's, the events of its related users on it or from it (all of
    them if none is above the floor). The id of a user alert is a hash of
    user and day (as before hosts existed); a host alert's, of ``host``,
    computer and day. ``existing`` keeps ``created_at`` stable on rebuilds.
    """
    schema = (
        "entity_type string, entity_id string, event_date date, severity string, score double, "
        "related_users array<string>"
    )
    picked = spark.createDataFrame(
        [(c.entity_type, c.entity_id, c.event_date, sev, c.risk_score, list(c.related_users)) for c, sev in chosen], schema
    )
    floor = config.day_event_floor
    user_picked = picked.where(F.col("entity_type") == USER).select(F.col("entity_id").alias("user_id"), "event_date")
    user_events = (
        scores.join(F.broadcast(user_picked), ["user_id", "event_date"], "left_semi")
        .select(F.lit(USER).alias("entity_type"), F.col("user_id").alias("entity_id"), "event_date", "event_id", "event_ts", "score")
    )
    host_picked = picked.where(F.col("entity_type") == HOST).select(
        F.col("entity_id").alias("host"), "event_date", F.explode("related_users").alias("user_id")
    )
    host_events = (
        scores.join(F.broadcast(host_picked), ["user_id", "event_date"])
        .where((F.col("computer_id") == F.col("host")) | (F.col("src_computer_id") == F.col("host")))
        .select(F.lit(HOST).alias("entity_type"), F.col("host").alias("entity_id"), "event_date", "event_id", "event_ts", "score")
    )
    # Evidence: the strong events when there are any, else every event (a user carried by a risky host,
    # a host carried by its newcomers alone).
    strong = Window.partitionBy("entity_type", "entity_id", "event_date")
    by_score = Window.partitionBy("entity_type", "entity_id", "event_date").orderBy(F.desc("score"), "event_ts", "event_id")
    evidence = (
        user_events.unionByName(host_events)
        .withColumn("top", F.max("score").over(strong))
        .where((F.col("score") > floor) | (F.col("top") <= floor))
        .withColumn("rank", F.row_number().over(by_score))
        .groupBy("entity_type", "entity_id", "event_date")
        .agg(
            F.min("event_ts").alias("first_event_ts"),
            F.max("event_ts").alias("last_event_ts"),
            F.sort_array(F.collect_list(F.struct("rank", "event_id"))).alias("ranked"),
        )
        .select(
            "entity_type",
            "entity_id",
            "event_date",
            "first_event_ts",
            "last_event_ts",
            F.slice(F.transform("ranked", lambda x: x["event_id"]), 1, config.alert_max_event_ids).alias("event_ids"),
        )
    )
    reasons = user_daily.select(
        F.lit(USER).alias("entity_type"), F.col("user_id").alias("entity_id"), "event_date", F.col("top_reasons").alias("reasons")
    )
    if host_daily is not None:
        reasons = reasons.unionByName(
            host_daily.select(
                F.lit(HOST).alias("entity_type"), F.col("computer_id").alias("entity_id"), "event_date", F.col("top_reasons").alias("reasons")
            )
        )
    user_key = F.concat_ws("|", F.lit("alert"), "entity_id", F.col("event_date").cast("string"))
    host_key = F.concat_ws("|", F.lit("alert"), F.lit(HOST), "entity_id", F.col("event_date").cast("string"))
    alert_id = F.substring(F.sha2(F.when(F.col("entity_type") == USER, user_key).otherwise(host_key), 256), 1, 24)
    known = existing.select("alert_id", F.col("created_at").alias("known_created_at"))
    return (
        picked.join(evidence, ["entity_type", "entity_id", "event_date"])
        .join(reasons, ["entity_type", "entity_id", "event_date"], "left")
        .withColumn("alert_id", alert_id)
        .join(known, "alert_id", "left")
        .select(
            "alert_id",
            # A host alert's user is its most implicated user, so user-centred views still have one.
            F.when(F.col("entity_type") == USER, F.col("entity_id"))
            .otherwise(F.coalesce(F.col("related_users")[0], F.col("entity_id")))
            .alias("user_id"),
            "event_date",
            F.coalesce("known_created_at", F.lit(now).cast("timestamp")).alias("created_at"),
            "severity",
            "score",
            F.coalesce("reasons", F.array().cast("array<string>")).alias("reasons"),
            "first_event_ts",
            "last_event_ts",
            "event_ids",
            F.lit(now).cast("timestamp").alias("updated_at"),
            F.lit(config.model_version).alias("model_version"),
            "entity_type",
            "entity_id",
            "related_users",
        )
    )


def alerts(
    user_daily: DataFrame,
    host_daily: DataFrame | None,
    scores: DataFrame,
    existing: DataFrame,
    earlier_alerts: DataFrame,
    earlier_daily: DataFrame,
    config: RiskConfig,
    now: datetime,
    days: list[date],
) -> DataFrame:
    """The alerts of ``days``: rank, walk within the budget, attach evidence.

    ``earlier_alerts`` are the alerts of the ``alert_window_days - 1`` days
    before the first day; ``earlier_daily`` the user_risk_daily rows of the
    ``budget.population_days - 1`` days before it (for the population).
    """
    days = sorted(set(days))
    spark = user_daily.sparkSession
    cands = candidates(user_daily, host_daily, config, days)
    chosen = decide(cands, population(user_daily, earlier_daily, days, config), open_alerts(earlier_alerts), config)
    return alert_rows(spark, chosen, user_daily, host_daily, scores, existing, config, now)
