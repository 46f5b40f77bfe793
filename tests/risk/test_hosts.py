"""Hosts as entities (risk/hosts.py) on real Spark: newcomers against own history and peers, decay, days only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pyspark.sql import functions as F

from authpulse_dagster.risk import hosts
from authpulse_dagster.risk.config import RiskConfig
from authpulse_dagster.transforms import gold
from tests.risk.builders import SCHEMA, TARGET, Events, day_of, normal_history, scored, target_day_routine

HOST_SCHEMA = (
    "computer_id string, event_date date, users_in long, new_users_in long, new_sources_in long, users_out long, "
    "new_users_out long, expected_in double, expected_out double, evidence double, day_score double, "
    "risk_score double, related_users array<string>, top_reasons array<string>, model_version string"
)


def _host_daily(spark, ev: Events, days: list[int], earlier=None, with_scores: bool = True):
    """host_risk_daily for ``days`` (indices), the gold inputs built from every event up to the last one."""
    config = RiskConfig()
    last = day_of(max(days))
    rows = [r for r in ev.rows if r[2] <= last]
    df = spark.createDataFrame(rows, SCHEMA)
    pairs, routes = gold.user_host_daily(df), gold.user_route_daily(df)
    if with_scores and max(days) == TARGET:
        _, scores = scored(spark, ev)  # materialized, as the step reads risk_scores from its table
    else:
        scores = spark.createDataFrame([], "user_id string, event_date date, score int, computer_id string, src_computer_id string")
    earlier = earlier if earlier is not None else spark.createDataFrame([], HOST_SCHEMA)
    return hosts.host_risk_daily(spark, pairs, routes, scores, earlier, [day_of(d) for d in days], config)


def _campaign() -> Events:
    """Routine target day, plus U1, U2, U4, U5 on R1 (a computer nobody used) from their workstations,
    and U1-U4 starting remote logons from F1 (a source nobody used)."""
    ev = target_day_routine(normal_history())
    for n in (1, 2, 4, 5):
        ev.add(f"r1-{n}", TARGET, f"U{n}", "R1", 14, n, src=f"W{n}")
    for n in (1, 2, 3, 4):
        ev.add(f"f1-{n}", TARGET, f"U{n}", "S2", 15, n, src="F1")
    return ev


def test_a_rare_host_with_four_newcomers_and_a_source_with_four_new_users_score(spark):
    rows = {r["computer_id"]: r for r in _host_daily(spark, _campaign(), list(range(TARGET + 1))).collect()
            if r["event_date"] == day_of(TARGET)}
    r1, f1 = rows["R1"], rows["F1"]
    assert (r1["users_in"], r1["new_users_in"]) == (4, 4) and r1["expected_in"] is not None
    assert r1["day_score"] > 0 and r1["top_reasons"][0] == "host_new_users"
    assert sorted(r1["related_users"]) == ["U1", "U2", "U4", "U5"]
    assert (f1["users_out"], f1["new_users_out"]) == (4, 4) and f1["day_score"] > 0
    assert f1["top_reasons"][0] == "host_new_source_users"
    # The users' own risky events on the host flow into it: evidence, on top of the newcomers.
    assert r1["evidence"] > 0 and r1["risk_score"] == r1["day_score"]
    # Each related user's part of it, riskiest first: the evidence is the strongest users' sum.
    ev = r1["related_evidence"]
    assert len(ev) == len(r1["related_users"]) and ev == sorted(ev, reverse=True)
    assert sum(ev[: RiskConfig().day_top_k]) == pytest.approx(r1["evidence"]) and ev[0] > 0


def test_an_ordinary_day_leaves_every_host_at_zero(spark):
    ev = target_day_routine(normal_history())
    target = [r for r in _host_daily(spark, ev, list(range(TARGET + 1))).collect() if r["event_date"] == day_of(TARGET)]
    assert {r["computer_id"] for r in target} == {"S1", "W1", "W2", "W3", "W4", "W5"}
    assert all(r["day_score"] == 0 and r["new_users_in"] == 0 and r["top_reasons"] == [] for r in target)
    # A shared server's regulars are not newcomers: S1 keeps its five users.
    assert next(r for r in target if r["computer_id"] == "S1")["users_in"] == 5


def test_first_days_are_not_judged_and_never_become_a_baseline(spark):
    ev = target_day_routine(normal_history())
    rows = _host_daily(spark, ev, list(range(TARGET + 1))).collect()
    cold = [r for r in rows if r["event_date"] < day_of(RiskConfig().history.min_history_days)]
    # Day 0: every user is new everywhere; nothing scores and no expectation is stored for later days to learn from.
    assert cold and all(r["day_score"] == 0 and r["expected_in"] is None for r in cold)
    assert any(r["new_users_in"] > 0 for r in cold)
    warm = [r for r in rows if r["event_date"] == day_of(TARGET)]
    assert warm and all(r["expected_in"] is not None for r in warm)


def test_only_the_days_asked_for_come_back_even_under_the_table_writers_guard(spark):
    # replace_days refuses rows outside the replaced days with raise_error; Spark pushes that guard down into
    # the plan, so it must meet a filter of the days, never the history rows of the lookback.
    ev = _campaign()
    target = day_of(TARGET)
    out = _host_daily(spark, ev, [TARGET], with_scores=False)
    guarded = out.where(F.when(F.col("event_date").isin([target]), F.lit(True)).otherwise(F.raise_error(F.lit("outside"))))
    assert {r["event_date"] for r in guarded.collect()} == {target}


def test_a_range_and_day_by_day_runs_agree(spark):
    ev = _campaign()
    days = list(range(6, TARGET + 1))
    cols = ["computer_id", "event_date", "new_users_in", "new_users_out", "expected_in", "day_score", "risk_score"]
    together = sorted(tuple(r[c] for c in cols) for r in _host_daily(spark, ev, list(range(TARGET + 1)), with_scores=False)
                      .where(F.col("event_date") >= day_of(days[0])).collect())
    stored = _host_daily(spark, ev, list(range(days[0])), with_scores=False).localCheckpoint()
    one_by_one = []
    for d in days:
        rows = _host_daily(spark, ev, [d], earlier=stored, with_scores=False).localCheckpoint()
        one_by_one += [tuple(r[c] for c in cols) for r in rows.collect()]
        stored = stored.unionByName(rows).localCheckpoint()
    assert sorted(one_by_one) == together


def test_risk_decays_like_a_users(spark):
    ev = _campaign()
    quiet_day = TARGET + 1
    for n in (1, 2, 4, 5):  # the day after, R1's newcomers come back: nobody new
        ev.add(f"r1-back-{n}", quiet_day, f"U{n}", "R1", 14, n, src=f"W{n}")
    rows = {(r["computer_id"], r["event_date"]): r
            for r in _host_daily(spark, ev, list(range(quiet_day + 1)), with_scores=False).collect()}
    config = RiskConfig()
    then, after = rows[("R1", day_of(TARGET))], rows[("R1", day_of(TARGET) + timedelta(days=1))]
    assert after["day_score"] == 0 and after["new_users_in"] == 0 and after["users_in"] == 4
    assert then["risk_score"] > 0 and after["risk_score"] == pytest.approx(then["risk_score"] * config.decay)
