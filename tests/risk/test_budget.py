"""The alert decision (risk/budget.py) on real Spark: budget, floor, dedup window, escalation, hosts covering users."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from authpulse_dagster.risk import budget, scoring
from authpulse_dagster.risk.config import RiskConfig
from tests.risk.builders import TARGET, normal_history, scored, target_day_routine

NOW = datetime(2024, 2, 1, tzinfo=timezone.utc)
DAY = date(2024, 1, 20)
DAILY = "user_id string, event_date date, risk_score double, day_score double, top_reasons array<string>"
HOSTS = "computer_id string, event_date date, risk_score double, day_score double, related_users array<string>, top_reasons array<string>"
SCORES = (
    "event_id string, event_ts timestamp, event_date date, user_id string, computer_id string, "
    "src_computer_id string, score int"
)
EXISTING = "alert_id string, created_at timestamp"
EARLIER_ALERTS = (
    "entity_type string, entity_id string, user_id string, event_date date, severity string, related_users array<string>"
)


def _frames(spark, daily_rows, score_rows=(), host_rows=None):
    daily = spark.createDataFrame(list(daily_rows), DAILY)
    scores = spark.createDataFrame(list(score_rows), SCORES)
    hosts = spark.createDataFrame(list(host_rows), HOSTS) if host_rows is not None else None
    return daily, scores, hosts


def _event(user: str, day: date, n: int = 0, score: int = 80, computer: str = "C1", src: str | None = None) -> tuple:
    ts = datetime(day.year, day.month, day.day, 10, n, tzinfo=timezone.utc)
    return (f"e-{user}-{day}-{n}", ts, day, user, computer, src, score)


def _alerts(spark, daily, scores, hosts, days, config=None, earlier=None, existing=None, now=NOW):
    config = config or RiskConfig()
    earlier = earlier if earlier is not None else spark.createDataFrame([], EARLIER_ALERTS)
    existing = existing if existing is not None else spark.createDataFrame([], EXISTING)
    empty_daily = spark.createDataFrame([], DAILY)
    return budget.alerts(daily, hosts, scores, existing, earlier, empty_daily, config, now, days).collect()


def _population(day: date, users: int, start: int = 0) -> list[tuple]:
    """Ordinary users of a day: active, nothing new (day score 0)."""
    return [(f"P{i}", day, 0.0, 0.0, []) for i in range(start, start + users)]


@pytest.fixture(scope="module")
def lateral(spark):
    """The routine target day plus U1 reaching 15 new computers in half an hour (as in test_scoring)."""
    ev = target_day_routine(normal_history())
    for i in range(15):
        ev.add(f"lat-{i}", TARGET, "U1", f"X{i}", 13, 2 * i)
    return scored(spark, ev)


def test_alerts_one_per_user_day_with_stable_id_and_creation_time(lateral, spark):
    inputs, scores = lateral
    config = RiskConfig()
    empty = spark.createDataFrame([], "user_id string, event_date date, day_score double")
    daily = scoring.user_risk_daily(scoring.day_summaries(scores, config), empty, config)
    first = _alerts(spark, daily, scores, None, inputs.days)
    assert [(a["entity_type"], a["entity_id"], a["user_id"]) for a in first] == [("user", "U1", "U1")]
    alert = first[0]
    assert alert["severity"] == "critical" and alert["score"] == 100.0 and alert["related_users"] == []
    assert "lat-14" in alert["event_ids"] and alert["event_ids"][0].startswith("lat-")
    assert alert["first_event_ts"] <= alert["last_event_ts"]
    # Rebuilding the day later keeps the id and the creation time, and updates the rest.
    existing = spark.createDataFrame([(alert["alert_id"], alert["created_at"])], EXISTING)
    again = _alerts(spark, daily, scores, None, inputs.days, existing=existing, now=NOW + timedelta(hours=1))
    assert [(a["alert_id"], a["created_at"]) for a in again] == [(alert["alert_id"], alert["created_at"])]
    assert again[0]["updated_at"] > alert["updated_at"]


def test_no_new_alert_when_only_yesterdays_risk_lingers(spark):
    daily, scores, _ = _frames(spark, [("U1", DAY, 70.0, 0.0, ["fan_out_spike"])], [_event("U1", DAY, score=10)])
    assert _alerts(spark, daily, scores, None, [DAY]) == []


def test_a_noisy_day_stays_within_the_budget_and_takes_the_riskiest(spark):
    # 1,000 users, 30 of them risky (51..80): the budget of 5 per 1,000 takes the top five.
    risky = [(f"R{i:02d}", DAY, 51.0 + i, 20.0, ["rare_host"]) for i in range(30)]
    daily, scores, _ = _frames(spark, risky + _population(DAY, 970), [_event(u, DAY) for u, *_ in risky])
    got = _alerts(spark, daily, scores, None, [DAY])
    assert budget.daily_budget(1000, RiskConfig()) == 5
    assert sorted(a["entity_id"] for a in got) == ["R25", "R26", "R27", "R28", "R29"]
    assert {a["severity"] for a in got} == {"high", "medium"}  # 80 is high, 76-79 medium


def test_a_quiet_day_sends_nothing(spark):
    # Plenty of budget (1,000 users), but nobody reaches the floor: a budget is a ceiling, never a quota.
    config = RiskConfig()
    near = [(f"N{i}", DAY, config.budget.floor - 1 - i, 15.0, ["off_hours"]) for i in range(10)]
    daily, scores, _ = _frames(spark, near + _population(DAY, 990), [_event(u, DAY, score=45) for u, *_ in near])
    assert _alerts(spark, daily, scores, None, [DAY]) == []


def test_the_budget_scales_with_the_users_of_the_trailing_week(spark):
    config = RiskConfig()
    assert budget.daily_budget(10, config) == 1  # a small site still gets its one alert
    assert budget.daily_budget(2999, config) == 14
    day2 = DAY + timedelta(days=1)
    # Day 2 has 500 active users, but 1,000 distinct ones in the trailing week: the budget is 5, not 2.
    rows = _population(DAY, 1000) + _population(day2, 500)
    daily = rows[:]
    for i in range(8):
        daily.append((f"R{i}", day2, 90.0 - i, 30.0, ["rare_host"]))
    daily_df, scores, _ = _frames(spark, daily, [_event(f"R{i}", day2) for i in range(8)])
    got = _alerts(spark, daily_df, scores, None, [DAY, day2])
    assert len(got) == 5 and {a["event_date"] for a in got} == {day2}


def test_dedup_window_holds_and_escalation_breaks_through(spark):
    d1, d2, d3, d4 = (DAY + timedelta(days=i) for i in range(4))
    rows = [
        ("U1", d1, 65.0, 30.0, ["rare_host"]),  # medium: alert
        ("U1", d2, 70.0, 20.0, ["rare_host"]),  # medium again inside the window: no alert
        ("U1", d3, 97.0, 60.0, ["fan_out_spike"]),  # critical: escalation, alert
        ("U1", d4, 99.0, 30.0, ["fan_out_spike"]),  # critical again within the window: no alert
    ]
    events = [_event("U1", d) for d in (d1, d2, d3, d4)]
    daily, scores, _ = _frames(spark, rows, events)
    got = sorted((a["event_date"], a["severity"]) for a in _alerts(spark, daily, scores, None, [d1, d2, d3, d4]))
    assert got == [(d1, "medium"), (d3, "critical")]
    # Day by day (as the stream runs), with the earlier alerts read back from the table: the same decisions.
    one_by_one = []
    for d in (d1, d2, d3, d4):
        earlier = spark.createDataFrame(
            [("user", "U1", "U1", day, sev, []) for day, sev in one_by_one if day < d], EARLIER_ALERTS
        )
        day_daily, day_scores, _ = _frames(spark, [r for r in rows if r[1] == d], [e for e in events if e[2] == d])
        one_by_one += [(a["event_date"], a["severity"]) for a in _alerts(spark, day_daily, day_scores, None, [d], earlier=earlier)]
    assert sorted(one_by_one) == got
    # Once the window has passed, the same severity alerts again.
    later = d1 + timedelta(days=RiskConfig().alert_window_days)
    daily, scores, _ = _frames(spark, [rows[0], ("U1", later, 65.0, 30.0, ["rare_host"])], [events[0], _event("U1", later)])
    assert sorted(a["event_date"] for a in _alerts(spark, daily, scores, None, [d1, later])) == [d1, later]


def test_a_host_alert_names_and_covers_its_users(spark):
    d2 = DAY + timedelta(days=1)
    users = [("U1", DAY, 70.0, 30.0, ["campaign_shared_source"]), ("U2", DAY, 66.0, 25.0, ["campaign_shared_source"]),
             ("U3", DAY, 20.0, 10.0, ["new_src_dst_pair"]), ("U1", d2, 72.0, 20.0, ["campaign_shared_source"])]
    events = [_event("U1", DAY, 0, 70, "C7", "H1"), _event("U2", DAY, 1, 65, "C8", "H1"), _event("U3", DAY, 2, 40, "C9", "H1"),
              _event("U9", DAY, 3, 90, "C1", "W9"), _event("U1", d2, 0, 70, "C7", "H1")]
    host = [("H1", DAY, 90.0, 90.0, ["U1", "U2", "U3"], ["host_new_source_users"])]
    daily, scores, hosts = _frames(spark, users, events, host)
    got = _alerts(spark, daily, scores, hosts, [DAY, d2])
    # One alert: the host, naming its users; U1 and U2 (riskier than the floor) are covered by it, on its day and after.
    assert [(a["entity_type"], a["entity_id"], a["event_date"]) for a in got] == [("host", "H1", DAY)]
    alert = got[0]
    assert alert["related_users"] == ["U1", "U2", "U3"] and alert["user_id"] == "U1"
    assert alert["reasons"] == ["host_new_source_users"] and alert["severity"] == "high"
    # Its evidence: the related users' events on or from the host, never another user's.
    assert sorted(alert["event_ids"]) == sorted(e[0] for e in events[:3])
    assert alert["alert_id"] != _alerts(spark, *_frames(spark, users[:1], events[:1])[:2], None, [DAY])[0]["alert_id"]


def test_a_host_with_new_users_realerts_but_the_same_users_do_not(spark):
    d2 = DAY + timedelta(days=1)
    same = [("H1", DAY, 70.0, 70.0, ["U1", "U2", "U3"], ["host_new_users"]),
            ("H1", d2, 75.0, 40.0, ["U1", "U2", "U3"], ["host_new_users"])]
    events = [_event(u, d, i, 60, "H1") for d in (DAY, d2) for i, u in enumerate(["U1", "U2", "U3", "U4", "U5", "U6"])]
    daily_rows = _population(DAY, 3) + _population(d2, 3)
    daily, scores, hosts = _frames(spark, daily_rows, events, same)
    assert [a["event_date"] for a in _alerts(spark, daily, scores, hosts, [DAY, d2])] == [DAY]
    spread = [same[0], ("H1", d2, 75.0, 40.0, ["U4", "U5", "U6"], ["host_new_users"])]
    daily, scores, hosts = _frames(spark, daily_rows, events, spread)
    got = _alerts(spark, daily, scores, hosts, [DAY, d2])
    assert sorted(a["event_date"] for a in got) == [DAY, d2]  # three more users than the open alert named
