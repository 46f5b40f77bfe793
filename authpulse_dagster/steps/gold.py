"""Gold steps: the access history, user behaviour and host popularity."""

from __future__ import annotations

import time
from datetime import timedelta

from pyspark.sql import functions as F

from authpulse_dagster.lakehouse.schemas import AUTH_EVENTS, HOST_POPULARITY, USER_BEHAVIOR, USER_HOST_DAILY, TableDef
from authpulse_dagster.lakehouse.spark_io import read_table, write_days
from authpulse_dagster.lakehouse.tables import days_filter, ensure_table
from authpulse_dagster.steps.context import StepContext, StepResult
from authpulse_dagster.transforms import gold


def _read_days(ctx: StepContext, table_def: TableDef, first, last):
    table = ensure_table(ctx.catalog, table_def)
    df = read_table(ctx.spark, table, days_filter([first, last]))
    return df.where(F.col("event_date").between(F.lit(first), F.lit(last)))


def _result(ctx: StepContext, table_def: TableDef, written: dict, started: float, **extra) -> StepResult:
    table = ctx.catalog.load_table(table_def.identifier)
    return StepResult(
        metadata={
            table_def.name: {
                "rows": written["rows"],
                "rows_by_day": written["rows_by_day"],
                "snapshots": written["snapshots"],
                "table": table_def.identifier,
                "location": table.location(),
                "seconds": round(time.monotonic() - started, 3),
                **extra,
            }
        }
    )


def run_user_host_daily(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    events = _read_days(ctx, AUTH_EVENTS, ctx.days[0], ctx.days[-1])
    table = ensure_table(ctx.catalog, USER_HOST_DAILY)
    written = write_days(
        gold.user_host_daily(events), table, ctx.days, ctx.snapshot_properties(USER_HOST_DAILY.name), sort_by=USER_HOST_DAILY.sort_by
    )
    return _result(ctx, USER_HOST_DAILY, written, started)


def run_user_behavior(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    lookback = ctx.settings.lookback_days
    events = _read_days(ctx, AUTH_EVENTS, ctx.days[0], ctx.days[-1])
    pairs = _read_days(ctx, USER_HOST_DAILY, ctx.days[0] - timedelta(days=lookback), ctx.days[-1])
    table = ensure_table(ctx.catalog, USER_BEHAVIOR)
    written = write_days(
        gold.user_behavior(events, pairs, ctx.days, lookback),
        table,
        ctx.days,
        ctx.snapshot_properties(USER_BEHAVIOR.name),
        sort_by=USER_BEHAVIOR.sort_by,
    )
    return _result(ctx, USER_BEHAVIOR, written, started, lookback_days=lookback)


def run_host_popularity(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    lookback = ctx.settings.lookback_days
    pairs = _read_days(ctx, USER_HOST_DAILY, ctx.days[0] - timedelta(days=lookback - 1), ctx.days[-1])
    table = ensure_table(ctx.catalog, HOST_POPULARITY)
    written = write_days(
        gold.host_popularity(ctx.spark, pairs, ctx.days, lookback),
        table,
        ctx.days,
        ctx.snapshot_properties(HOST_POPULARITY.name),
        sort_by=HOST_POPULARITY.sort_by,
    )
    return _result(ctx, HOST_POPULARITY, written, started, lookback_days=lookback)
