"""Streaming-health sensor: the streaming job stopped, failed, or stopped making progress.

It asks the ``streaming`` resource (the same one the ``start_streaming`` /
``stop_streaming`` jobs and ``authpulse stream`` use) for the job's state:

* ``failed``: the job wrote ``failed`` in its status file, or said
  ``running`` and its process is gone (killed, crashed);
* ``stopped``: stopped on purpose (``authpulse stream stop``), worth knowing
  because nothing is being processed;
* ``stalled``: the process runs, but has finished no micro-batch for
  ``AUTHPULSE_STREAM_STALL_SECONDS`` **and** Kinesis holds records that
  arrived after its last batch (checked with an ``AT_TIMESTAMP`` iterator per
  shard): an idle stream is not a stall;
* ``unverified``: the process runs without progress and that check itself
  failed (AccessDenied on ``GetShardIterator``/``GetRecords``, an unreachable
  endpoint, expired credentials). A check that could not be made is reported
  with its error, never read as health: a missing permission would otherwise
  switch stall detection off for good without anyone knowing.

A job that was never started is not a problem (nothing is expected of it).

Each problem is reported once (``stream_unhealthy``), and its end once
(``stream_recovered``); the cursor (JSON, kept by the Dagster instance)
remembers which problem was reported. With ``AUTHPULSE_STREAM_RESTART=on`` a
failed or stalled job is restarted through the resource, at most
``MAX_RESTARTS_PER_HOUR`` times an hour so a job that crashes on start cannot
loop; a stopped job is left alone (someone stopped it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import dagster as dg

from authpulse_dagster import notify
from authpulse_dagster.aws import aws_client
from authpulse_dagster.local_stack import apply_local_environment
from authpulse_dagster.resources.streaming import StreamingJobResource, StreamStatus
from authpulse_dagster.sensors.config import OpsConfig
from authpulse_dagster.settings import Settings

log = logging.getLogger(__name__)

SENSOR_NAME = "streaming_health_sensor"
FAILED, STOPPED, STALLED, UNVERIFIED = "failed", "stopped", "stalled", "unverified"
KIND_UNHEALTHY, KIND_RECOVERED = "stream_unhealthy", "stream_recovered"
MAX_RESTARTS_PER_HOUR = 3
STOP_TIMEOUT_SECONDS = 20.0  # a stalled job gets this long to stop before it is killed (a tick must stay short)


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    t = datetime.fromisoformat(ts)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def last_progress(status: StreamStatus) -> datetime | None:
    """When the job last finished a batch, or (no batch yet) when it started."""
    return _parse(status.last_progress) or _parse(status.detail.get("started_at"))


def records_waiting_since(settings: Settings, since: datetime) -> bool:
    """True if any shard holds a record that reached Kinesis at or after ``since``.

    ``AT_TIMESTAMP`` positions an iterator at the first record that arrived at
    or after the time; ``GetRecords`` then returns it, or at least reports
    ``MillisBehindLatest > 0`` when records follow an empty page.
    """
    from authpulse_dagster.live.kinesis_source import list_shards

    kinesis = aws_client("kinesis", settings)
    for shard in list_shards(kinesis, {"StreamName": settings.stream_name}):
        iterator = kinesis.get_shard_iterator(
            StreamName=settings.stream_name, ShardId=shard.shard_id, ShardIteratorType="AT_TIMESTAMP", Timestamp=since
        )["ShardIterator"]
        for _ in range(3):  # Kinesis may answer an empty page before reaching records
            page = kinesis.get_records(ShardIterator=iterator, Limit=1)
            if page.get("Records") or page.get("MillisBehindLatest", 0) > 0:
                return True
            iterator = page.get("NextShardIterator")
            if not iterator:
                break
    return False


@dataclass(frozen=True)
class Assessment:
    problem: str | None
    detail: dict[str, Any]


def assess(
    status: StreamStatus, ops: OpsConfig, now: datetime, waiting: Callable[[datetime], bool]
) -> Assessment:
    """What is wrong with the job right now, if anything."""
    base = {
        "state": status.state,
        "pid": status.pid,
        "last_batch_id": status.last_batch_id,
        "last_progress": status.last_progress,
        "log": status.log,
    }
    if status.state == FAILED:
        return Assessment(FAILED, {**base, "error": status.detail.get("error") or "the process is gone"})
    if status.state == STOPPED:
        return Assessment(STOPPED, {**base, "stopped_at": status.detail.get("stopped_at")})
    if status.running:
        since = last_progress(status)
        if since is not None and (now - since).total_seconds() >= ops.stall_seconds:
            try:
                stalled = waiting(since)
            except Exception as exc:  # noqa: BLE001 - reported as a problem of its own, below
                log.warning("could not check Kinesis for waiting records: %s", exc)
                idle = int((now - since).total_seconds())
                return Assessment(
                    UNVERIFIED,
                    {**base, "seconds_without_progress": idle, "check_error": f"{type(exc).__name__}: {exc}"},
                )
            if stalled:
                idle = int((now - since).total_seconds())
                return Assessment(STALLED, {**base, "seconds_without_progress": idle})
    return Assessment(None, base)


@dataclass
class HealthCursor:
    problem: str | None = None
    since: str | None = None
    message_id: str | None = None
    restarts: list[str] = field(default_factory=list)  # ISO times of restarts in the last hour

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | None) -> "HealthCursor":
        return cls(**json.loads(raw)) if raw else cls()


def _restart(streaming: StreamingJobResource, problem: str) -> StreamStatus:
    if problem == STALLED:
        streaming.stop(timeout=STOP_TIMEOUT_SECONDS)
    return streaming.start()


def evaluate(
    cursor: HealthCursor,
    assessment: Assessment,
    settings: Settings,
    ops: OpsConfig,
    now: datetime,
    publish: Callable[[str, str, dict[str, Any], dict[str, str]], str],
    restart: Callable[[str], StreamStatus],
) -> tuple[HealthCursor, list[str]]:
    """Alert on a new problem, restart if allowed, report recovery; returns the cursor and what was done."""
    done: list[str] = []
    recent = [t for t in cursor.restarts if now - datetime.fromisoformat(t) < timedelta(hours=1)]
    problem = assessment.problem
    if problem is None:
        if cursor.problem is not None:
            body = {"stream": settings.stream_name, "previous_problem": cursor.problem, "since": cursor.since,
                    "recovered_at": now.isoformat(), **assessment.detail}
            publish(KIND_RECOVERED, f"AuthPulse: streaming job healthy again on {settings.stream_name}", body,
                    {"severity": "ok", "stream": settings.stream_name})
            done.append(KIND_RECOVERED)
        return HealthCursor(restarts=recent), done
    if problem == cursor.problem:
        return HealthCursor(cursor.problem, cursor.since, cursor.message_id, recent), done

    action = "none"
    if problem in (FAILED, STALLED):
        if not ops.stream_restart:
            action = "none (set AUTHPULSE_STREAM_RESTART=on to restart automatically)"
        elif len(recent) >= MAX_RESTARTS_PER_HOUR:
            action = f"none ({MAX_RESTARTS_PER_HOUR} restarts in the last hour already)"
        else:
            try:
                after = restart(problem)
                action = f"restarted (pid {after.pid}, state {after.state})"
                recent.append(now.isoformat())
            except Exception as exc:  # noqa: BLE001 - the alert must still go out
                action = f"restart failed: {exc}"
            done.append("restart")
    severity = "warning" if problem == STOPPED else "critical"
    body = {"stream": settings.stream_name, "problem": problem, "action": action, "detected_at": now.isoformat(),
            "stall_seconds": ops.stall_seconds, **assessment.detail}
    message_id = publish(KIND_UNHEALTHY, f"AuthPulse: streaming job {problem} on {settings.stream_name}", body,
                         {"severity": severity, "stream": settings.stream_name, "problem": problem})
    done.append(KIND_UNHEALTHY)
    return HealthCursor(problem, now.isoformat(), message_id, recent), done


def build_streaming_health_sensor(
    settings: Settings, ops: OpsConfig, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR_NAME,
        description=(
            "Watches the streaming job through the `streaming` resource: failed, stopped, or no batch for "
            f"{ops.stall_seconds} s while records wait in Kinesis → one SNS alert per problem, a message when it "
            f"is healthy again; restart on failure/stall is {'on' if ops.stream_restart else 'off'} "
            "(AUTHPULSE_STREAM_RESTART)."
        ),
        minimum_interval_seconds=ops.sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING if ops.sensors_on else dg.DefaultSensorStatus.STOPPED,
    )
    def streaming_health_sensor(context: dg.SensorEvaluationContext, streaming: StreamingJobResource):
        apply_local_environment(settings)
        now = clock()
        status = streaming.status()
        assessment = assess(status, ops, now, lambda since: records_waiting_since(settings, since))

        def publish(kind: str, subject: str, body: dict[str, Any], attrs: dict[str, str]) -> str:
            message_id = notify.publish(settings, kind, subject, body, attrs)
            context.log.info(f"published {kind} ({message_id}): {subject}")
            return message_id

        cursor, done = evaluate(
            HealthCursor.from_json(context.cursor), assessment, settings, ops, now, publish,
            lambda problem: _restart(streaming, problem),
        )
        context.update_cursor(cursor.to_json())
        return dg.SkipReason(f"streaming job {status.state}; problem: {assessment.problem}; did: {done or 'nothing'}")

    return streaming_health_sensor
