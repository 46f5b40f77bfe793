"""Scores and daily user scores from crafted rule hits (real Spark); alerts: test_budget.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from authpulse_dagster.risk import scoring
from authpulse_dagster.risk.config import RiskConfig
from authpulse_dagster.risk.rules import RULES
from tests.risk.builders import TARGET, normal_history, scored, target_day_routine


@pytest.fixture(scope="module")
def lateral(spark):
    """The routine target day plus U1 reaching 15 new computers in half an hour."""
    ev = target_day_routine(normal_history())
    for i in range(15):
        ev.add(f"lat-{i}", TARGET, "U1", f"X{i}", 13, 2 * i)
    return scored(spark, ev)


def test_event_score_combines_weights_like_probabilities(lateral):
    _, scores = lateral
    row = scores.where("event_id = 'lat-12'").first()
    w = RiskConfig().weights
    # X12 is new to everyone (a rare host), and 15 new computers in a day is a spread, and far more than U1's
    # (and its peers') usual novelty accumulated over the week. Strongest first.
    assert row["reasons"] == ["fan_out_spike", "new_host_spread", "rare_host", "slow_novelty", "first_time_access"]
    expected = 1.0
    for reason in row["reasons"]:
        expected *= 1 - w[reason]
    expected = 1 - expected
    assert row["score"] == round(100 * expected)


def test_every_event_gets_a_row_and_quiet_ones_score_zero(lateral):
    inputs, scores = lateral
    assert scores.count() == inputs.events.count()
    quiet = scores.where("user_id = 'U2'").collect()
    assert quiet and all(r["score"] == 0 and r["reasons"] == [] for r in quiet)
    assert {r["model_version"] for r in scores.collect()} == {RiskConfig().model_version}


def test_daily_score_counts_only_the_strongest_events_above_the_floor(lateral):
    _, scores = lateral
    config = RiskConfig()
    days = {r["user_id"]: r for r in scoring.day_summaries(scores, config).collect()}
    top = sorted((r["score"] for r in scores.where("user_id = 'U1'").collect()), reverse=True)[: config.day_top_k]
    assert days["U1"]["day_score"] == pytest.approx(sum(max(0, s - config.day_event_floor) for s in top))
    assert days["U1"]["top_reasons"][0] == "first_time_access" or "fan_out_spike" in days["U1"]["top_reasons"]
    assert days["U2"]["day_score"] == 0 and days["U2"]["top_reasons"] == []
    assert days["U1"]["high_risk_events"] >= 7 and days["U2"]["high_risk_events"] == 0


def test_risk_score_decays_over_the_window(spark):
    config = RiskConfig()
    d = date(2024, 1, 20)
    days = spark.createDataFrame(
        [("U1", d, 10.0, 40, 0, 5, [])],
        "user_id string, event_date date, day_score double, max_event_score int, high_risk_events long, events long, top_reasons array<string>",
    )
    earlier = spark.createDataFrame(
        [("U1", d - timedelta(days=1), 50.0), ("U1", d - timedelta(days=3), 40.0), ("U1", d - timedelta(days=config.decay_window_days), 99.0)],
        "user_id string, event_date date, day_score double",
    )
    row = scoring.user_risk_daily(days, earlier, config).first()
    # The day 7 days back is outside the window; the others fade with decay ** age.
    assert row["risk_score"] == pytest.approx(10 + 50 * config.decay + 40 * config.decay**3)


def test_risk_score_is_capped_at_100(spark):
    days = spark.createDataFrame(
        [("U1", date(2024, 1, 20), 400.0, 90, 9, 9, ["fan_out_spike"])],
        "user_id string, event_date date, day_score double, max_event_score int, high_risk_events long, events long, top_reasons array<string>",
    )
    empty = spark.createDataFrame([], "user_id string, event_date date, day_score double")
    assert scoring.user_risk_daily(days, empty, RiskConfig()).first()["risk_score"] == 100.0


def test_weights_are_validated_and_cover_every_rule():
    assert set(RiskConfig().weights) == {r.name for r in RULES}
    with pytest.raises(ValueError, match="weight of fan_out_spike"):
        RiskConfig(weights={**RiskConfig().weights, "fan_out_spike": 1.0})
    with pytest.raises(ValueError, match="medium <= high"):
        replace(RiskConfig(), alert_high=99.0, alert_critical=90.0)


def test_a_risky_host_lends_users_its_risk_but_never_a_users_own_evidence_back(spark):
    config = RiskConfig()
    uf, share = config.hosts.user_flow, config.flow.host_to_user
    day = date(2024, 1, 10)
    rows = [
        # H1's whole day score is U1's evidence there (no newcomer excess): nothing flows back to U1,
        # and U2, new on H1 the same day with nothing of its own, takes a share of it.
        ("H1", day, uf * 40.0, ["U1", "U2"], [40.0, 0.0]),
        # H2 is risky by its newcomers (30) plus U3's evidence: U3 gets the newcomers' part.
        ("H2", day, 30.0 + uf * 20.0, ["U3"], [20.0]),
        # A row from before related_evidence existed: the whole day score flows, as it did.
        ("H3", day, 10.0, ["U4"], None),
        ("H4", day, 0.0, ["U5"], [0.0]),  # a quiet host lends nothing
    ]
    hosts = spark.createDataFrame(rows, "computer_id string, event_date date, day_score double, "
                                        "related_users array<string>, related_evidence array<double>")
    flow = {r["user_id"]: r["host_flow"] for r in scoring.host_flow(hosts, config).collect()}
    assert flow == pytest.approx({"U2": share * uf * 40.0, "U3": share * 30.0, "U4": share * 10.0})
