"""Gold steps: the access history, user behaviour and host popularity."""

from __future__ import annotations

import time
from datetime import timedelta

from authpulse_dagster.lakehouse.schemas import AUTH_EVENTS, HOST_POPULARITY, USER_BEHAVIOR, USER_HOST_DAILY
from authpulse_dagster.steps.context import StepContext, StepResult
from authpulse_dagster.steps.io import read_days, result, write_days
from authpulse_dagster.transforms import gold


def run_user_host_daily(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    events = read_days(ctx, AUTH_EVENTS, ctx.days[0], ctx.days[-1])
    return result(USER_HOST_DAILY, write_days(ctx, USER_HOST_DAILY, gold.user_host_daily(events)), started)


def run_user_behavior(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    lookback = ctx.settings.lookback_days
    events = read_days(ctx, AUTH_EVENTS, ctx.days[0], ctx.days[-1])
    pairs = read_days(ctx, USER_HOST_DAILY, ctx.days[0] - timedelta(days=lookback), ctx.days[-1])
    written = write_days(ctx, USER_BEHAVIOR, gold.user_behavior(events, pairs, ctx.days, lookback))
    return result(USER_BEHAVIOR, written, started, lookback_days=lookback)


def run_host_popularity(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    lookback = ctx.settings.lookback_days
    pairs = read_days(ctx, USER_HOST_DAILY, ctx.days[0] - timedelta(days=lookback - 1), ctx.days[-1])
    written = write_days(ctx, HOST_POPULARITY, gold.host_popularity(ctx.spark, pairs, ctx.days, lookback))
    return result(HOST_POPULARITY, written, started, lookback_days=lookback)
