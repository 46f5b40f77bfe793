"""Scores, daily user scores and alerts from crafted rule hits (real Spark)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from authpulse_dagster.risk import scoring
from authpulse_dagster.risk.config import RiskConfig
from authpulse_dagster.risk.rules import RULES
from tests.risk.builders import TARGET, build, normal_history, target_day_routine

NOW = datetime(2024, 2, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def lateral(spark):
    """The routine target day plus U1 reaching 15 new computers in half an hour."""
    ev = target_day_routine(normal_history())
    for i in range(15):
        ev.add(f"lat-{i}", TARGET, "U1", f"X{i}", 13, 2 * i)
    inputs = build(spark, ev)
    # localCheckpoint cuts the lineage: the tests below build more plans on top of it.
    scores = scoring.score_events(inputs, scoring.rule_hits(inputs)).localCheckpoint()
    return inputs, scores


def test_event_score_combines_weights_like_probabilities(lateral):
    _, scores = lateral
    row = scores.where("event_id = 'lat-12'").first()
    w = RiskConfig().weights
    # X12 is new to everyone (a rare host), and 15 new computers in a day is a spread. Strongest first.
    assert row["reasons"] == ["fan_out_spike", "new_host_spread", "rare_host", "first_time_access"]
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


def test_alerts_one_per_user_day_with_stable_id_and_creation_time(lateral, spark):
    _, scores = lateral
    config = RiskConfig()
    empty = spark.createDataFrame([], "user_id string, event_date date, day_score double")
    daily = scoring.user_risk_daily(scoring.day_summaries(scores, config), empty, config)
    no_alerts = spark.createDataFrame([], "alert_id string, created_at timestamp")
    first = scoring.alerts(daily, scores, no_alerts, config, NOW).collect()
    assert [a["user_id"] for a in first] == ["U1"]
    alert = first[0]
    assert alert["severity"] == "critical" and alert["score"] == 100.0
    assert "lat-14" in alert["event_ids"] and alert["event_ids"][0].startswith("lat-")
    assert alert["first_event_ts"] <= alert["last_event_ts"]
    # Rebuilding the day later keeps the id and the creation time, and updates the rest.
    existing = spark.createDataFrame([(alert["alert_id"], alert["created_at"])], "alert_id string, created_at timestamp")
    again = scoring.alerts(daily, scores, existing, config, NOW + timedelta(hours=1)).collect()
    assert [(a["alert_id"], a["created_at"]) for a in again] == [(alert["alert_id"], alert["created_at"])]
    assert again[0]["updated_at"] > alert["updated_at"]


def test_no_new_alert_when_only_yesterdays_risk_lingers(spark):
    config = RiskConfig()
    daily = spark.createDataFrame(
        [("U1", date(2024, 1, 20), 70.0, 0.0, ["fan_out_spike"])],
        "user_id string, event_date date, risk_score double, day_score double, top_reasons array<string>",
    )
    scores = spark.createDataFrame([], "event_id string, event_ts timestamp, event_date date, user_id string, score int")
    none = spark.createDataFrame([], "alert_id string, created_at timestamp")
    assert scoring.alerts(daily, scores, none, config, NOW).count() == 0


def test_weights_are_validated_and_cover_every_rule():
    assert set(RiskConfig().weights) == {r.name for r in RULES}
    with pytest.raises(ValueError, match="weight of fan_out_spike"):
        RiskConfig(weights={**RiskConfig().weights, "fan_out_spike": 1.0})
    with pytest.raises(ValueError, match="medium <= high"):
        replace(RiskConfig(), alert_high=99.0, alert_critical=90.0)
