"""Risk steps: route history, event scores, daily user scores, alerts (and their delivery).

Each step reads what it needs for ``ctx.days`` (plus the lookback) from the
tables, applies the pure functions in ``risk/`` and replaces those days.
The streaming job runs the same steps for the days a micro-batch touched.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from pyspark.sql import functions as F

from authpulse_dagster.lakehouse.schemas import (
    ALERT_DELIVERIES,
    ALERTS,
    AUTH_EVENTS,
    HOST_POPULARITY,
    HOST_RISK_DAILY,
    RISK_SCORES,
    USER_BEHAVIOR,
    USER_HOST_DAILY,
    USER_RISK_DAILY,
    USER_ROUTE_DAILY,
)
from authpulse_dagster.api import export as triage_export
from authpulse_dagster.lakehouse import spark_tables
from authpulse_dagster.risk import budget, hosts, publish, scoring
from authpulse_dagster.risk.config import RiskConfig
from authpulse_dagster.risk.inputs import RiskInputs
from authpulse_dagster.steps.context import StepContext, StepResult
from authpulse_dagster.steps.io import read_days, result, write_days
from authpulse_dagster.transforms import gold


def _config(ctx: StepContext) -> RiskConfig:
    # The lookback of "seen before" is the platform's (AUTHPULSE_LOOKBACK_DAYS).
    base = RiskConfig()
    return replace(base, history=replace(base.history, lookback_days=ctx.settings.lookback_days))


def _write(ctx: StepContext, table_def, df):
    return write_days(ctx, table_def, df)


def _read_days(ctx: StepContext, table_def, first, last):
    return read_days(ctx, table_def, first, last)


def _result(ctx: StepContext, table_def, written, started, **extra) -> StepResult:
    return result(table_def, written, started, **extra)


def run_user_route_daily(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    events = _read_days(ctx, AUTH_EVENTS, ctx.days[0], ctx.days[-1])
    written = _write(ctx, USER_ROUTE_DAILY, gold.user_route_daily(events))
    return _result(ctx, USER_ROUTE_DAILY, written, started)


def risk_inputs(ctx: StepContext, config: RiskConfig) -> RiskInputs:
    first, last = ctx.days[0], ctx.days[-1]
    history_start = first - timedelta(days=config.history.lookback_days)
    return RiskInputs(
        spark=ctx.spark,
        days=ctx.days,
        events=_read_days(ctx, AUTH_EVENTS, first, last),
        pairs=_read_days(ctx, USER_HOST_DAILY, history_start, last),
        behavior=_read_days(ctx, USER_BEHAVIOR, history_start, last),
        hosts=_read_days(ctx, HOST_POPULARITY, first, last),
        routes=_read_days(ctx, USER_ROUTE_DAILY, history_start, last),
        config=config,
    )


def run_risk_scores(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    config = _config(ctx)
    inputs = risk_inputs(ctx, config)
    hits = scoring.rule_hits(inputs).persist()
    fired = {r["reason"]: r["count"] for r in hits.groupBy("reason").count().collect()}
    written = _write(ctx, RISK_SCORES, scoring.score_events(inputs, hits))
    hits.unpersist()
    return _result(ctx, RISK_SCORES, written, started, model_version=config.model_version, rule_hits=fired)


def run_host_risk_daily(ctx: StepContext) -> StepResult:
    """Hosts as entities (``risk/hosts.py``): newcomers against own history and peers, users' evidence, decay."""
    started = time.monotonic()
    config = _config(ctx)
    first, last = ctx.days[0], ctx.days[-1]
    history_start = first - timedelta(days=config.history.lookback_days)
    daily = hosts.host_risk_daily(
        ctx.spark,
        _read_days(ctx, USER_HOST_DAILY, history_start, last),
        _read_days(ctx, USER_ROUTE_DAILY, history_start, last),
        _read_days(ctx, RISK_SCORES, first, last),
        _read_days(ctx, HOST_RISK_DAILY, history_start, first - timedelta(days=1)),
        ctx.days,
        config,
    )
    written = _write(ctx, HOST_RISK_DAILY, daily)
    return _result(ctx, HOST_RISK_DAILY, written, started, model_version=config.model_version)


def run_user_risk_daily(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    config = _config(ctx)
    scores = _read_days(ctx, RISK_SCORES, ctx.days[0], ctx.days[-1])
    earlier = _read_days(ctx, USER_RISK_DAILY, ctx.days[0] - timedelta(days=config.decay_window_days), ctx.days[0] - timedelta(days=1))
    # Risk flows from hosts to users: a user new to a risky host that day takes a share of its day score
    # (config.flow.host_to_user), so the accounts a foothold spends are raised together, not one by one.
    flow = scoring.host_flow(_read_days(ctx, HOST_RISK_DAILY, ctx.days[0], ctx.days[-1]), config)
    daily = scoring.user_risk_daily(scoring.day_summaries(scores, config), earlier, config, flow)
    written = _write(ctx, USER_RISK_DAILY, daily)
    return _result(ctx, USER_RISK_DAILY, written, started, model_version=config.model_version)


def write_alerts(ctx: StepContext) -> tuple[dict, dict]:
    """Rebuild the alerts of ``ctx.days``; return what was written and the count per severity."""
    config = _config(ctx)
    first, last = ctx.days[0], ctx.days[-1]
    # Users and hosts ranked together within the daily budget (risk/budget.py).
    rows = budget.alerts(
        # SOC API: a false positive silences the same user+reasons for a while (authpulse_dagster/api/suppressions.py).
        triage_export.for_alerts_step(ctx.settings, _read_days(ctx, USER_RISK_DAILY, first, last)),
        _read_days(ctx, HOST_RISK_DAILY, first, last),
        _read_days(ctx, RISK_SCORES, first, last),
        _read_days(ctx, ALERTS, first, last),
        _read_days(ctx, ALERTS, first - timedelta(days=config.alert_window_days - 1), first - timedelta(days=1)),
        _read_days(ctx, USER_RISK_DAILY, first - timedelta(days=config.budget.population_days - 1), first - timedelta(days=1)),
        config,
        datetime.now(timezone.utc),
        ctx.days,
    )
    written = _write(ctx, ALERTS, rows)
    severities = (
        _read_days(ctx, ALERTS, first, last).where(F.col("event_date").isin(ctx.days)).groupBy("severity").count().collect()
    )
    return written, {r["severity"]: r["count"] for r in severities}


def run_alerts(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    written, by_severity = write_alerts(ctx)
    return _result(ctx, ALERTS, written, started, alerts_by_severity=by_severity)


def run_alert_deliveries(ctx: StepContext) -> StepResult:
    """Publish the days' new alerts to SNS; the ``alert_deliveries`` ledger is the asset."""
    started = time.monotonic()
    delivery = publish.deliver(ctx.settings, ctx.spark, ctx.days, ctx.path, ctx.snapshot_properties(ALERT_DELIVERIES.name))
    sent = spark_tables.rows_by_day(ctx.spark, ALERT_DELIVERIES, ctx.days)
    written = {"rows": sum(sent.values()), "rows_by_day": sent, "snapshot_id": None}
    return _result(ctx, ALERT_DELIVERIES, written, started, alerts_published=delivery.sent,
                   alerts_already_sent=delivery.already_sent, topic=delivery.topic_arn, path=ctx.path)

