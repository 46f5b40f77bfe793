"""The Kinesis lag sensor against moto CloudWatch over HTTP and a real Dagster instance.

The scenario is laid out on a clock the test controls (CloudWatch windows are
relative to the sensor's clock), with datapoints stamped accordingly, so a
no-lag → breach → continuing breach → recovery sequence takes seconds, not
windows. Each tick rebuilds the sensor context from the previous tick's cursor
on a freshly opened instance, as a restarted daemon would.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pytest

from authpulse_dagster import notify
from authpulse_dagster.definitions import build_definitions
from authpulse_dagster.sensors.backfill import requested_days, silver_gold_keys
from authpulse_dagster.sensors.config import OpsConfig
from authpulse_dagster.settings import Settings
from authpulse_dagster.sensors.lag import (
    CRITICAL, ITERATOR_AGE, KINESIS_NAMESPACE, LagCursor, LagReading, build_lag_sensor, evaluate, read_lag,
)
from tests.sensors.conftest import open_instance, put_metric
from tests.sensors.lakehouse_rows import append_bronze, append_late_events, kinesis_rows

OPS = OpsConfig(lag_warn_ms=60_000, lag_critical_ms=300_000, lag_window_minutes=1)


def silver_gold(defs) -> set[str]:
    """The silver and gold assets as the definitions hold them now (the gold group grows)."""
    keys = {k.to_user_string() for k in silver_gold_keys(defs.resolve_asset_graph())}
    assert {"auth_events", "quarantine", "user_host_daily", "user_behavior", "host_popularity"} <= keys
    return keys


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _tick(defs, sensor, instance_dir, cursor):
    """One evaluation on a freshly opened instance, from the cursor the previous one left."""
    with open_instance(instance_dir) as instance:
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, sensor_name=sensor.name)
        return sensor.evaluate_tick(ctx)


def _lag_messages(settings):
    return [m for m in notify.receive(settings, wait_seconds=1) if m.body["kind"].startswith("lag_")]


def test_no_lag_breach_continuing_breach_and_recovery(aws_env, aws_resources, instance_dir):
    settings = aws_env
    real_now = datetime.now(timezone.utc).replace(microsecond=0)
    clock = Clock(real_now - timedelta(minutes=3))
    sensor = build_lag_sensor(settings, OPS, clock)
    defs = build_definitions(settings)

    # 1. Datapoints well under the threshold: nothing to say.
    put_metric(settings, "ProcessingLag", 4_000, real_now - timedelta(minutes=3, seconds=20))
    put_metric(settings, "MillisBehindLatest", 1_000, real_now - timedelta(minutes=3, seconds=20))
    first = _tick(defs, sensor, instance_dir, None)
    assert first.run_requests == [] and "ok" in first.skip_message
    assert json.loads(first.cursor)["episode"] is None
    assert _lag_messages(settings) == []

    # 2. A breach (warning): exactly one alert, with the numbers that caused it.
    put_metric(settings, "ProcessingLag", 95_000, real_now - timedelta(minutes=1, seconds=10))
    clock.now = real_now - timedelta(minutes=1)
    second = _tick(defs, sensor, instance_dir, first.cursor)
    episode = json.loads(second.cursor)["episode"]
    assert episode["severity"] == "warning" and episode["peak_ms"] == 95_000
    alerts = _lag_messages(settings)
    assert [m.body["kind"] for m in alerts] == ["lag_alert"]
    alert = alerts[0]
    assert alert.attributes == {"kind": "lag_alert", "severity": "warning", "stream": settings.stream_name}
    assert alert.body["lag_ms"] == 95_000 and alert.body["metric"] == f"{settings.metrics_namespace}/ProcessingLag"
    assert alert.body["episode_id"] == episode["id"] and alert.body["thresholds_ms"] == {"warning": 60_000, "critical": 300_000}
    assert episode["alert_message_id"]  # the SNS id, kept so the recovery can refer to the alert

    # 3. Still behind on the next tick (a restarted daemon, same cursor): no second alert.
    put_metric(settings, "ProcessingLag", 120_000, real_now - timedelta(seconds=30))
    clock.now = real_now - timedelta(seconds=25)
    third = _tick(defs, sensor, instance_dir, second.cursor)
    assert third.run_requests == []
    assert json.loads(third.cursor)["episode"]["peak_ms"] == 120_000
    assert json.loads(third.cursor)["episode"]["id"] == episode["id"]
    assert _lag_messages(settings) == []

    # What the job did during the episode: day 2 landed 90 s late, day 1 promptly, day 3 past the watermark;
    # day 4 landed late but long before the episode (an older episode's business).
    day1, day2, day3, day4 = (date(2024, 1, d) for d in (1, 2, 3, 4))
    landed = datetime.now(timezone.utc)
    append_bronze(settings, kinesis_rows(day1, 3, landed - timedelta(seconds=2), landed, "ontime"))
    append_bronze(settings, kinesis_rows(day2, 3, landed - timedelta(seconds=90), landed, "slow"))
    old = real_now - timedelta(hours=2)
    append_bronze(settings, kinesis_rows(day4, 3, old - timedelta(minutes=5), old, "older"))
    append_late_events(settings, day3)

    # 4. Back under the threshold for a whole window: recovery message and one backfill of exactly days 2 and 3.
    put_metric(settings, "ProcessingLag", 3_000, real_now + timedelta(minutes=1, seconds=30))
    clock.now = real_now + timedelta(minutes=2)
    fourth = _tick(defs, sensor, instance_dir, third.cursor)
    assert json.loads(fourth.cursor)["episode"] is None
    assert len(fourth.run_requests) == 1
    request = fourth.run_requests[0]
    assert request.requires_backfill_daemon()  # the daemon turns it into one backfill, not a run per day
    assert request.tags["authpulse/trigger"] == "kinesis_lag_sensor"
    assert request.tags["authpulse/episode"] == episode["id"]
    assert requested_days(request) == {asset: {"2024-01-02", "2024-01-03"} for asset in silver_gold(defs)}
    recovered = _lag_messages(settings)
    assert [m.body["kind"] for m in recovered] == ["lag_recovered"]
    body = recovered[0].body
    assert body["affected_days"] == ["2024-01-02", "2024-01-03"] and body["backfill_days"] == body["affected_days"]
    assert body["peak_lag_ms"] == 120_000 and body["episode_id"] == episode["id"]

    # 5. Quiet again: the closed episode stays closed, nothing more is sent or requested.
    clock.now = real_now + timedelta(minutes=2, seconds=30)
    fifth = _tick(defs, sensor, instance_dir, fourth.cursor)
    assert fifth.run_requests == [] and _lag_messages(settings) == []


def test_no_datapoints_never_close_an_episode(aws_env, aws_resources, instance_dir):
    """A paused or stopped job publishes nothing; silence is not evidence of recovery."""
    settings = aws_env
    now = datetime.now(timezone.utc)
    clock = Clock(now)
    sensor = build_lag_sensor(settings, OPS, clock)
    defs = build_definitions(settings)
    put_metric(settings, "MillisBehindLatest", 70_000, now - timedelta(seconds=10))
    opened = _tick(defs, sensor, instance_dir, None)
    assert json.loads(opened.cursor)["episode"] is not None
    clock.now = now + timedelta(minutes=10)  # the window holds no datapoint at all
    later = _tick(defs, sensor, instance_dir, opened.cursor)
    assert json.loads(later.cursor)["episode"]["id"] == json.loads(opened.cursor)["episode"]["id"]
    assert later.run_requests == []
    assert [m.body["kind"] for m in _lag_messages(settings)] == ["lag_alert"]


def test_iterator_age_from_aws_kinesis_counts_and_the_max_metric_wins(aws_env, aws_resources):
    settings = aws_env
    now = datetime.now(timezone.utc)
    put_metric(settings, ITERATOR_AGE, 400_000, now - timedelta(seconds=20), namespace=KINESIS_NAMESPACE)
    put_metric(settings, "ProcessingLag", 90_000, now - timedelta(seconds=20))
    put_metric(settings, "ProcessingLag", 999_999, now - timedelta(minutes=5))  # outside the window
    reading = read_lag(settings, OPS, now)
    assert reading.lag_ms == 400_000
    assert reading.metric == f"{KINESIS_NAMESPACE}/{ITERATOR_AGE}"
    assert reading.state(OPS) == CRITICAL
    assert reading.values[f"{settings.metrics_namespace}/MillisBehindLatest"] is None


def test_escalation_to_critical_is_sent_once_per_episode():
    settings = replace(Settings(), stream_name="s")
    sent: list[str] = []

    def publish(kind, subject, body, attrs):
        sent.append(kind)
        return f"m{len(sent)}"

    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    cursor = LagCursor()
    for i, lag in enumerate([70_000, 310_000, 500_000, 320_000]):
        reading = LagReading(t0 + timedelta(minutes=i), 1, {"x/ProcessingLag": lag})
        cursor = evaluate(cursor, reading, settings, OPS, publish, None, lambda a, b: set()).cursor
    assert sent == ["lag_alert", "lag_escalated"]
    assert cursor.episode.severity == "critical" and cursor.episode.peak_ms == 500_000


@pytest.mark.parametrize("env, message", [
    ({"AUTHPULSE_LAG_WARN_MS": "soon"}, "AUTHPULSE_LAG_WARN_MS='soon' is not a whole number"),
    ({"AUTHPULSE_LAG_WARN_MS": "5000", "AUTHPULSE_LAG_CRITICAL_MS": "100"}, "must be at least the warning one"),
    ({"AUTHPULSE_LAG_WINDOW_MINUTES": "0"}, "AUTHPULSE_LAG_WINDOW_MINUTES=0 must be between 1 and 1440"),
    ({"AUTHPULSE_SENSORS": "maybe"}, "AUTHPULSE_SENSORS='maybe' must be on or off"),
    ({"AUTHPULSE_SCHEDULE_HOUR": "5", "AUTHPULSE_FRESHNESS_HOUR": "4"}, "AUTHPULSE_FRESHNESS_HOUR=4 must be later"),
])
def test_bad_settings_are_one_line_config_errors(env, message):
    from authpulse_dagster.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        OpsConfig.from_env(env)
    assert "\n" not in str(err.value)


def test_sensors_default_to_running_locally_and_can_be_turned_off(monkeypatch):
    for value, status in (("on", dg.DefaultSensorStatus.RUNNING), ("off", dg.DefaultSensorStatus.STOPPED)):
        monkeypatch.setenv("AUTHPULSE_SENSORS", value)
        defs = build_definitions(Settings())
        repo = defs.get_repository_def()
        statuses = {s.name: s.default_status for s in repo.sensor_defs}
        for name in ("kinesis_lag_sensor", "streaming_health_sensor", "late_data_sensor", "run_failure_alert_sensor",
                     "gold_freshness_sensor"):
            assert statuses[name] == status, name
        assert repo.get_schedule_def("reconcile_silver_gold_daily").default_status.value == status.value
    monkeypatch.delenv("AUTHPULSE_SENSORS")
    assert OpsConfig.from_env({}).sensors_on is True
    assert OpsConfig.from_env({"AUTHPULSE_ENV": "aws"}).sensors_on is False
