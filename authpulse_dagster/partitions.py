"""Daily partitions on event date, starting at the dataset epoch's day."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import dagster as dg

from authpulse_dagster.settings import Settings


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=settings.dataset_epoch.strftime("%Y-%m-%d"), timezone="UTC")


def context_days(context: dg.AssetExecutionContext) -> list[date]:
    """The days a (possibly multi-partition, single-run backfill) execution covers.

    An unpartitioned asset (the risk dashboard) covers no particular day of
    data: it gets the run's UTC date, so every step runner can hand any step
    the same one-day context and ``--start/--end`` command line.
    """
    if not (context.has_partition_key or context.has_partition_key_range):
        return [datetime.now(timezone.utc).date()]
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date()
    return [start + timedelta(days=i) for i in range((end - start).days)]
