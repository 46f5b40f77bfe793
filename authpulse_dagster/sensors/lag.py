"""Kinesis lag sensor: one alert per lag episode, a recovery message, and one backfill of the days it touched.

**What it reads.** CloudWatch ``GetMetricData``, the Maximum over the last
``AUTHPULSE_LAG_WINDOW_MINUTES`` of three metrics of the stream
(dimension ``StreamName``):

* ``AWS/Kinesis`` ``GetRecords.IteratorAgeMilliseconds``: how old the last
  record a consumer read was (Kinesis emits it in AWS; a moto server does not
  emit AWS/Kinesis metrics, so locally this one is simply absent);
* ``<AUTHPULSE_METRICS_NAMESPACE>`` ``MillisBehindLatest``: how far behind the
  shard's tip the job's last read was (Kinesis' own answer to GetRecords);
* ``<AUTHPULSE_METRICS_NAMESPACE>`` ``ProcessingLag``: now minus the newest
  arrival time in the job's last batch, measured when the batch finished.

The lag is the largest of them. Warning at ``AUTHPULSE_LAG_WARN_MS``,
critical at ``AUTHPULSE_LAG_CRITICAL_MS``.

**Episodes.** A tick whose lag reaches the warning threshold opens an episode
and publishes one ``lag_alert``; later breaching ticks only update the
episode (its peak), except that crossing into critical once publishes one
``lag_escalated``. The episode closes on evidence only: a tick with
datapoints in the window, all under the warning threshold. A window without
datapoints (job idle, paused or down) leaves the episode as it is; telling a
stopped job apart is the streaming-health sensor's job. Closing publishes
``lag_recovered`` and requests **one** backfill of the silver and gold assets
for the affected days.

**Affected days.** The episode runs from ``detected - 2 x window`` (the
datapoints that revealed the breach were measured at the end of batches that
began up to a window earlier; never before the previous episode's end) to the
recovery tick. A day is affected when, in that interval,

1. the job landed a Kinesis record of that day at least the warning threshold
   after the record reached Kinesis (``raw_events.ingested_at -
   raw_events.arrival_ts``: processed late), or
2. the job listed an event of that day in ``late_events`` (it arrived behind
   the watermark, so silver does not have it).

Rebuilding those days from bronze through the batch path puts the late events
into silver and recomputes gold from complete data.

**State.** The episode lives in the sensor cursor (JSON), which Dagster keeps
in the instance's storage, so a restarted daemon carries on with the same
episode instead of alerting again.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

import dagster as dg

from authpulse_dagster import notify
from authpulse_dagster.aws import aws_client
from authpulse_dagster.local_stack import apply_local_environment
from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.sensors.backfill import SILVER_GOLD, TRIGGER_TAG, plan_backfill
from authpulse_dagster.sensors.config import OpsConfig
from authpulse_dagster.sensors.lakehouse_reads import delayed_days, late_event_days
from authpulse_dagster.settings import Settings

log = logging.getLogger(__name__)

SENSOR_NAME = "kinesis_lag_sensor"
KINESIS_NAMESPACE = "AWS/Kinesis"
ITERATOR_AGE = "GetRecords.IteratorAgeMilliseconds"
OK, WARNING, CRITICAL, NO_DATA = "ok", "warning", "critical", "no_data"
KIND_ALERT, KIND_ESCALATED, KIND_RECOVERED = "lag_alert", "lag_escalated", "lag_recovered"
CURSOR_VERSION = 1


@dataclass(frozen=True)
class LagReading:
    """The stream's lag over the evaluation window, as CloudWatch reports it."""

    at: datetime
    window_minutes: int
    values: dict[str, float | None]  # metric -> Maximum over the window (None: no datapoint)

    @property
    def lag_ms(self) -> float | None:
        present = [v for v in self.values.values() if v is not None]
        return max(present) if present else None

    @property
    def metric(self) -> str | None:
        present = {k: v for k, v in self.values.items() if v is not None}
        return max(present, key=lambda k: present[k]) if present else None

    def state(self, ops: OpsConfig) -> str:
        lag = self.lag_ms
        if lag is None:
            return NO_DATA
        if lag >= ops.lag_critical_ms:
            return CRITICAL
        return WARNING if lag >= ops.lag_warn_ms else OK


def _metrics(settings: Settings) -> list[tuple[str, str, str]]:
    """(query id, namespace, metric name) of every lag metric, in the order reported."""
    return [
        ("iterator_age", KINESIS_NAMESPACE, ITERATOR_AGE),
        ("millis_behind_latest", settings.metrics_namespace, "MillisBehindLatest"),
        ("processing_lag", settings.metrics_namespace, "ProcessingLag"),
    ]


def read_lag(settings: Settings, ops: OpsConfig, now: datetime | None = None) -> LagReading:
    """Maximum of each lag metric over the last window, from CloudWatch (moto locally)."""
    now = now or datetime.now(timezone.utc)
    window = timedelta(minutes=ops.lag_window_minutes)
    names = {qid: f"{ns}/{name}" for qid, ns, name in _metrics(settings)}
    queries = [
        {
            "Id": qid,
            "MetricStat": {
                "Metric": {
                    "Namespace": ns,
                    "MetricName": name,
                    "Dimensions": [{"Name": "StreamName", "Value": settings.stream_name}],
                },
                "Period": ops.lag_window_seconds,
                "Stat": "Maximum",
            },
            "ReturnData": True,
        }
        for qid, ns, name in _metrics(settings)
    ]
    cloudwatch = aws_client("cloudwatch", settings)
    values: dict[str, float | None] = {names[qid]: None for qid in names}
    kwargs: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": now - window,
        # A minute of slack: a datapoint stamped by a host whose clock runs a little ahead still counts.
        "EndTime": now + timedelta(minutes=1),
        "ScanBy": "TimestampDescending",
    }
    while True:
        response = cloudwatch.get_metric_data(**kwargs)
        for result in response.get("MetricDataResults", []):
            key = names[result["Id"]]
            got = [float(v) for v in result.get("Values", [])]
            if got:
                values[key] = max([*got, *([values[key]] if values[key] is not None else [])])
        token = response.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    return LagReading(at=now, window_minutes=ops.lag_window_minutes, values=values)


@dataclass
class Episode:
    id: str
    started_at: str  # start of the interval whose records count as affected
    detected_at: str
    severity: str
    peak_ms: float
    peak_metric: str | None
    alert_message_id: str | None = None
    escalated: bool = False
    breaching_ticks: int = 1


@dataclass
class LagCursor:
    """What the sensor remembers between ticks (and across daemon restarts)."""

    episode: Episode | None = None
    last_episode_end: str | None = None
    last_state: str | None = None
    last_lag_ms: float | None = None
    last_evaluated_at: str | None = None
    v: int = CURSOR_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | None) -> "LagCursor":
        if not raw:
            return cls()
        data = json.loads(raw)
        if data.get("v") != CURSOR_VERSION:
            log.warning("lag sensor cursor version %r unknown; starting from a clean state", data.get("v"))
            return cls()
        episode = Episode(**data["episode"]) if data.get("episode") else None
        return cls(episode, data.get("last_episode_end"), data.get("last_state"), data.get("last_lag_ms"),
                   data.get("last_evaluated_at"))


@dataclass
class TickOutcome:
    """What one evaluation decided: the new cursor, the messages sent, the backfill asked for."""

    cursor: LagCursor
    state: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    backfill: dg.RunRequest | None = None
    affected_days: list[date] = field(default_factory=list)
    skipped_days: dict[str, str] = field(default_factory=dict)


Publisher = Callable[[str, str, dict[str, Any], dict[str, str]], str]


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat()


def affected_days(settings: Settings, ops: OpsConfig, start: datetime, end: datetime) -> set[date]:
    """The days a lag episode touched (see the module docstring for the rule)."""
    catalog = load_catalog(settings)
    return delayed_days(catalog, start, end, ops.lag_warn_ms) | late_event_days(catalog, start, end)


def evaluate(
    cursor: LagCursor,
    reading: LagReading,
    settings: Settings,
    ops: OpsConfig,
    publish: Publisher,
    asset_graph,
    days_for: Callable[[datetime, datetime], set[date]],
) -> TickOutcome:
    """One tick of the state machine (no clock or AWS inside, so tests drive it tick by tick)."""
    state = reading.state(ops)
    now = reading.at
    cursor = replace(cursor, last_state=state, last_lag_ms=reading.lag_ms, last_evaluated_at=_iso(now))
    out = TickOutcome(cursor=cursor, state=state)
    common = {
        "stream": settings.stream_name,
        "lag_ms": reading.lag_ms,
        "metric": reading.metric,
        "metrics": reading.values,
        "window_minutes": reading.window_minutes,
        "thresholds_ms": {"warning": ops.lag_warn_ms, "critical": ops.lag_critical_ms},
        "evaluated_at": _iso(now),
    }
    episode = cursor.episode

    if state in (WARNING, CRITICAL) and episode is None:
        floor = datetime.fromisoformat(cursor.last_episode_end) if cursor.last_episode_end else None
        start = now - 2 * timedelta(minutes=reading.window_minutes)
        start = max(start, floor) if floor else start
        episode = Episode(
            id=uuid.uuid4().hex[:12], started_at=_iso(start), detected_at=_iso(now), severity=state,
            peak_ms=float(reading.lag_ms or 0), peak_metric=reading.metric, escalated=state == CRITICAL,
        )
        body = {**common, "severity": state, "episode_id": episode.id, "episode_started_at": episode.started_at}
        subject = f"AuthPulse: Kinesis lag {state} on {settings.stream_name} ({_seconds(reading.lag_ms)})"
        episode.alert_message_id = publish(KIND_ALERT, subject, body, {"severity": state, "stream": settings.stream_name})
        out.messages.append({"kind": KIND_ALERT, "subject": subject, **body})
        out.cursor = replace(cursor, episode=episode)
        return out

    if state in (WARNING, CRITICAL) and episode is not None:
        episode = replace(episode, breaching_ticks=episode.breaching_ticks + 1)
        if (reading.lag_ms or 0) > episode.peak_ms:
            episode = replace(episode, peak_ms=float(reading.lag_ms or 0), peak_metric=reading.metric)
        if state == CRITICAL and not episode.escalated:
            episode = replace(episode, severity=CRITICAL, escalated=True)
            body = {**common, "severity": CRITICAL, "episode_id": episode.id, "episode_started_at": episode.started_at}
            subject = f"AuthPulse: Kinesis lag now critical on {settings.stream_name} ({_seconds(reading.lag_ms)})"
            publish(KIND_ESCALATED, subject, body, {"severity": CRITICAL, "stream": settings.stream_name})
            out.messages.append({"kind": KIND_ESCALATED, "subject": subject, **body})
        out.cursor = replace(cursor, episode=episode)
        return out

    if state == OK and episode is not None:
        started = datetime.fromisoformat(episode.started_at)
        days = days_for(started, now)
        plan = plan_backfill(asset_graph, days, {TRIGGER_TAG: SENSOR_NAME, "authpulse/episode": episode.id})
        body = {
            **common,
            "severity": "ok",
            "episode_id": episode.id,
            "episode_started_at": episode.started_at,
            "episode_detected_at": episode.detected_at,
            "episode_ended_at": _iso(now),
            "peak_lag_ms": episode.peak_ms,
            "peak_metric": episode.peak_metric,
            "peak_severity": episode.severity,
            "alert_message_id": episode.alert_message_id,
            "affected_days": [d.isoformat() for d in sorted(days)],
            "backfill_days": [d.isoformat() for d in plan.days],
            "skipped_days": plan.skipped,
            "backfill_assets": "silver + gold groups" if plan.request else None,
        }
        subject = f"AuthPulse: Kinesis lag recovered on {settings.stream_name} ({len(plan.days)} day(s) to backfill)"
        publish(KIND_RECOVERED, subject, body, {"severity": "ok", "stream": settings.stream_name})
        out.messages.append({"kind": KIND_RECOVERED, "subject": subject, **body})
        out.backfill = plan.request
        out.affected_days = plan.days
        out.skipped_days = plan.skipped
        out.cursor = replace(cursor, episode=None, last_episode_end=_iso(now))
        return out

    return out  # no episode and no breach, or no datapoints: nothing to say


def _seconds(ms: float | None) -> str:
    return "no data" if ms is None else f"{ms / 1000:.1f} s behind"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def build_lag_sensor(
    settings: Settings, ops: OpsConfig, clock: Callable[[], datetime] = _utc_now
) -> dg.SensorDefinition:
    """The sensor; ``settings``/``ops`` are those the code location loaded with.

    ``clock`` tells the sensor what time it is: CloudWatch windows are
    relative to it, so a test can replay a scenario of several windows
    without waiting for them to pass.
    """

    @dg.sensor(
        name=SENSOR_NAME,
        description=(
            f"Kinesis lag of {settings.stream_name} from CloudWatch (IteratorAgeMilliseconds, MillisBehindLatest, "
            f"ProcessingLag; max over {ops.lag_window_minutes} min): warning at {ops.lag_warn_ms} ms, critical at "
            f"{ops.lag_critical_ms} ms. One SNS alert per episode, a recovery message, and one backfill of "
            "silver + gold for the days processed late or past the watermark."
        ),
        minimum_interval_seconds=ops.sensor_interval_seconds,
        asset_selection=SILVER_GOLD,
        default_status=dg.DefaultSensorStatus.RUNNING if ops.sensors_on else dg.DefaultSensorStatus.STOPPED,
    )
    def kinesis_lag_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        apply_local_environment(settings)
        cursor = LagCursor.from_json(context.cursor)
        reading = read_lag(settings, ops, clock())

        def publish(kind: str, subject: str, body: dict[str, Any], attrs: dict[str, str]) -> str:
            message_id = notify.publish(settings, kind, subject, body, attrs)
            context.log.info(f"published {kind} ({message_id}): {subject}")
            return message_id

        outcome = evaluate(
            cursor, reading, settings, ops, publish, context.repository_def.asset_graph,
            lambda start, end: affected_days(settings, ops, start, end),
        )
        context.log.info(f"lag {reading.lag_ms} ms ({reading.metric}) -> {outcome.state}")
        return dg.SensorResult(
            run_requests=[outcome.backfill] if outcome.backfill else [],
            cursor=outcome.cursor.to_json(),
            skip_reason=None if outcome.backfill else f"lag {_seconds(reading.lag_ms)}: {outcome.state}",
        )

    return kinesis_lag_sensor
