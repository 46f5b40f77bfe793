"""Crafted authentication histories for rule tests, turned into real RiskInputs with the gold transforms.

Ten ordinary days (2024-01-01 .. 01-10) for six users, then a target day
(2024-01-11) that each test fills with its own events. Users U1-U6 work
09:00-16:59 UTC, each on their own workstation W<n> (used by nobody else)
and the shared server S1; U1-U3 also use S2. U6 is only active on the first
two days (so it is dormant by the target day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from pyspark.sql import DataFrame, SparkSession

from authpulse_dagster.risk import scoring
from authpulse_dagster.risk.config import RiskConfig
from authpulse_dagster.risk.inputs import RiskInputs
from authpulse_dagster.transforms import gold

EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
HISTORY_DAYS = 10
TARGET = 10  # day index of the day being scored
SCHEMA = (
    "event_id string, event_ts timestamp, event_date date, user_id string, computer_id string, "
    "src_computer_id string, success boolean, event_hour int"
)


def day_of(index: int) -> date:
    return (EPOCH + timedelta(days=index)).date()


@dataclass
class Events:
    rows: list[tuple]

    def add(self, event_id: str, day: int, user: str, computer: str, hour: int, minute: int = 0, second: int = 0,
            src: str | None = None, success: bool = True) -> "Events":
        ts = EPOCH + timedelta(days=day, hours=hour, minutes=minute, seconds=second)
        self.rows.append((event_id, ts, ts.date(), user, computer, src, success, hour))
        return self


def normal_history(days: int = HISTORY_DAYS) -> Events:
    ev = Events([])
    for d in range(days):
        for n in range(1, 7):
            if n == 6 and d >= 2:
                continue
            user, ws = f"U{n}", f"W{n}"
            for hour in range(9, 17):
                ev.add(f"h-{d}-{n}-{hour}-a", d, user, ws, hour, 5, src=ws)
                server = "S2" if (n <= 3 and hour % 2) else "S1"
                ev.add(f"h-{d}-{n}-{hour}-b", d, user, server, hour, 35, src=ws)
    return ev


def target_day_routine(ev: Events, users: range = range(1, 6)) -> Events:
    """An ordinary target day for U1-U5 (ids t-<user>-<hour>-a/b)."""
    for n in users:
        user, ws = f"U{n}", f"W{n}"
        for hour in range(9, 17):
            ev.add(f"t-{n}-{hour}-a", TARGET, user, ws, hour, 5, src=ws)
            ev.add(f"t-{n}-{hour}-b", TARGET, user, "S1", hour, 35, src=ws)
    return ev


_HISTORY: dict[tuple, tuple[DataFrame, DataFrame, DataFrame]] = {}


def _history(spark: SparkSession, rows: list[tuple], lookback: int) -> tuple[DataFrame, DataFrame, DataFrame]:
    """Gold tables of the history days, computed once per distinct history (tests share it)."""
    key = (tuple(rows), lookback)
    if key not in _HISTORY:
        df = spark.createDataFrame(rows, SCHEMA)
        days = sorted({r[2] for r in rows})
        pairs = gold.user_host_daily(df).cache()
        behavior = gold.user_behavior(df, pairs, days, lookback).cache()
        routes = gold.user_route_daily(df).cache()
        _HISTORY[key] = (pairs, behavior, routes)
    return _HISTORY[key]


def build(spark: SparkSession, ev: Events, config: RiskConfig | None = None, score_day: int = TARGET) -> RiskInputs:
    """RiskInputs for ``score_day`` with history computed by the real gold transforms."""
    config = config or RiskConfig()
    lookback = config.history.lookback_days
    day = day_of(score_day)
    past = [r for r in ev.rows if r[2] < day]
    today = spark.createDataFrame([r for r in ev.rows if r[2] == day], SCHEMA)
    h_pairs, h_behavior, h_routes = _history(spark, past, lookback)
    pairs = h_pairs.unionByName(gold.user_host_daily(today))
    return RiskInputs(
        spark=spark,
        days=[day],
        events=today,
        pairs=pairs,
        behavior=h_behavior.unionByName(gold.user_behavior(today, pairs, [day], lookback)),
        hosts=gold.host_popularity(spark, pairs, [day], lookback),
        routes=h_routes.unionByName(gold.user_route_daily(today)),
        config=config,
    )


def fired(rule, inputs: RiskInputs) -> set[str]:
    return {r["event_id"] for r in rule.detect(inputs).collect()}


_ROUTINE: dict[int, RiskInputs] = {}


def routine_inputs(spark: SparkSession) -> RiskInputs:
    """The ordinary target day, built and cached once: every rule's "stays quiet" case reads it."""
    key = id(spark)
    if key not in _ROUTINE:
        inputs = build(spark, target_day_routine(normal_history()))
        for name in ("events", "pairs", "behavior", "hosts", "routes"):
            setattr(inputs, name, getattr(inputs, name).cache())
        _ROUTINE[key] = inputs
    return _ROUTINE[key]


_SCORED: dict[tuple, tuple[RiskInputs, DataFrame]] = {}


def scored(spark: SparkSession, ev: Events, config: RiskConfig | None = None) -> tuple[RiskInputs, DataFrame]:
    """:func:`build` plus every rule's scores for the target day, computed once per distinct history.

    The inputs are materialized as the risk step reads them (from tables, not from the gold
    transforms' lineage): all thirteen rules read them, and recomputing that lineage per rule was
    most of a scoring test's minute. Tests in several modules share the same scenarios.
    """
    config = config or RiskConfig()
    key = (id(spark), tuple(ev.rows), repr(config))
    if key not in _SCORED:
        inputs = build(spark, ev, config)
        for name in ("events", "pairs", "behavior", "hosts", "routes"):
            setattr(inputs, name, getattr(inputs, name).localCheckpoint())
        # localCheckpoint cuts the lineage: the tests build more plans on top of the scores.
        _SCORED[key] = inputs, scoring.score_events(inputs, scoring.rule_hits(inputs)).localCheckpoint()
    return _SCORED[key]
