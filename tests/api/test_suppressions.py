"""A false positive feeds back into detection: the same entity and reasons stop alerting for N days."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from authpulse_dagster.api.suppressions import Suppression, from_triage, is_suppressed
from authpulse_dagster.api.triage import TriageState

D1 = date(2024, 2, 1)


def _day(n: int) -> date:
    return D1 + timedelta(days=n - 1)


def _fp(alert_id: str, entity: str, day: date, reasons: tuple[str, ...], status: str = "false_positive") -> TriageState:
    return TriageState(alert_id=alert_id, status=status, version=2, entity_type="user", entity=entity,
                       event_date=day.isoformat(), reasons=reasons, updated_by="analyst", updated_at="2026-01-01T00:00:00Z")


def test_false_positives_become_one_row_per_reason_for_the_days_after():
    rows = from_triage([_fp("a1", "U7", D1, ("rare_host", "off_hours", "rare_host")), _fp("a2", "U8", D1, ("x",), "closed")], 7)
    assert [(r.entity, r.reason, r.after_day, r.until_day) for r in rows] == [
        ("U7", "off_hours", D1, _day(8)), ("U7", "rare_host", D1, _day(8)),
    ]
    assert from_triage([_fp("a1", "U7", D1, ("rare_host",))], 0) == []  # 0 days: feedback off


@pytest.mark.parametrize("entity,reasons,day,expected", [
    ("U7", ["rare_host"], _day(2), True),
    ("U7", ["rare_host", "off_hours"], _day(8), True),
    ("U7", ["rare_host"], D1, False),  # the false positive's own day is not rewritten
    ("U7", ["rare_host"], _day(9), False),  # past the window
    ("U7", ["rare_host", "fan_out_spike"], _day(3), False),  # a new reason alerts
    ("U8", ["rare_host"], _day(3), False),  # another entity
    ("U7", [], _day(3), False),
])
def test_a_day_is_suppressed_only_when_every_reason_is(entity, reasons, day, expected):
    rows = [Suppression("user", "U7", r, D1, _day(8), "a1") for r in ("rare_host", "off_hours")]
    assert is_suppressed(rows, "user", entity, reasons, day) is expected


# --- the real loop: API -> DynamoDB -> export -> the alerts step on Spark ------------------------


def _urd(user: str, day: date, risk: float, reasons: list[str]) -> dict:
    return dict(user_id=user, event_date=day, risk_score=risk, day_score=risk, max_event_score=int(risk), high_risk_events=1,
                events=20, top_reasons=reasons, model_version="test")


def _score(user: str, day: date, reasons: list[str]) -> dict:
    at = datetime(day.year, day.month, day.day, 3, 0, tzinfo=timezone.utc)
    return dict(event_id=f"{user}-{day}", event_ts=at, event_date=day, user_id=user, computer_id="C9", src_computer_id="C1",
                score=80, reasons=reasons, model_version="test")


def _alerts(spark, days: list[date]) -> set[tuple[str, date]]:
    from authpulse_dagster.lakehouse import spark_tables
    from authpulse_dagster.lakehouse.schemas import ALERTS

    return {(r["user_id"], r["event_date"]) for r in spark_tables.read_days(spark, ALERTS, days[0], days[-1]).collect()}


def test_a_false_positive_suppresses_the_repeat_alert_in_the_alerts_step(spark, settings, moto_endpoint, monkeypatch):
    from fastapi.testclient import TestClient

    from authpulse_dagster.api.app import create_app
    from authpulse_dagster.api.config import ApiSettings
    from authpulse_dagster.api.export import read_suppressions
    from authpulse_dagster.api.store import open_store
    from authpulse_dagster.lakehouse.schemas import RISK_SCORES, USER_RISK_DAILY
    from authpulse_dagster.spark import get_spark
    from authpulse_dagster.steps.context import StepContext
    from authpulse_dagster.steps.risk import write_alerts
    from tests.fixtures.lakehouse import write_rows

    for name, value in {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AUTHPULSE_API_TABLE": f"authpulse-api-fp-{id(settings) % 10**8}"}.items():
        monkeypatch.setenv(name, value)
    days = [_day(n) for n in range(1, 9)]
    # U7 is alerted on day 1 and again on day 6 for the same reasons (days apart, so not one window);
    # U8 is the next riskiest on day 6; on day 8 U7 shows a new reason. One alert a day fits the budget here.
    daily = [_urd("U7", _day(1), 90.0, ["rare_host", "off_hours"]), _urd("U7", _day(6), 90.0, ["rare_host", "off_hours"]),
             _urd("U8", _day(6), 70.0, ["fan_out_spike"]), _urd("U7", _day(8), 90.0, ["rare_host", "fan_out_spike"])]
    write_rows(settings, USER_RISK_DAILY, daily)
    write_rows(settings, RISK_SCORES, [_score(r["user_id"], r["event_date"], r["top_reasons"]) for r in daily])
    ctx = StepContext(settings, days)
    write_alerts(ctx)
    spark = get_spark(settings)
    before = _alerts(spark, days)
    assert ("U7", _day(1)) in before and ("U7", _day(6)) in before and ("U8", _day(6)) not in before

    api = ApiSettings.from_env()
    store = open_store(settings)
    key = store.create_key("analyst", "triage")[1]
    client = TestClient(create_app(settings, api, store), headers={"Authorization": f"Bearer {key}"})
    alert_id = next(a["alert_id"] for a in client.get("/v1/alerts", params={"entity": "U7"}).json()["items"]
                    if a["event_date"] == _day(1).isoformat())
    got = client.get(f"/v1/alerts/{alert_id}")
    assert got.status_code == 200, got.text
    etag = got.headers["etag"]
    etag = client.patch(f"/v1/alerts/{alert_id}", json={"status": "acknowledged"}, headers={"If-Match": etag}).headers["etag"]
    r = client.patch(f"/v1/alerts/{alert_id}", json={"status": "false_positive", "note": "scheduled scan"}, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    assert {(s.entity, s.reason, s.until_day) for s in read_suppressions(settings)} == {
        ("U7", "rare_host", _day(8)), ("U7", "off_hours", _day(8))}

    write_alerts(StepContext(settings, days))
    after = _alerts(spark, days)
    assert ("U7", _day(1)) in after  # the false positive itself stays, with its triage status
    assert ("U7", _day(6)) not in after  # the repeat is suppressed ...
    assert ("U8", _day(6)) in after  # ... and the day's place goes to the next candidate
    assert ("U7", _day(8)) in after  # a new reason still alerts
    status = client.get("/v1/alerts", params={"entity": "U7", "status": "false_positive"}).json()["items"]
    assert [a["alert_id"] for a in status] == [alert_id]
