"""The daily reconciliation: yesterday's silver and gold, rebuilt from bronze by the batch path.

The streaming job keeps silver and gold current during the day, micro-batch
by micro-batch. Once a day (UTC, ``AUTHPULSE_SCHEDULE_HOUR``, default 01:00)
the schedule materializes **yesterday's** partition of every silver and gold
asset through Dagster: the same steps recompute the day from everything
bronze received, including events the stream left out as late, and the
materializations (with their checks) land in the instance where the
freshness checks look for them.

The assets are selected by group, so gold assets added later are reconciled
too. "Yesterday" is wall-clock UTC: with the default dataset epoch (2024)
the replayed LANL days are far in the past, so set
``AUTHPULSE_DATASET_EPOCH`` to a recent date to have a replay feed the days
the schedule reconciles.
"""

from __future__ import annotations

from datetime import timedelta, timezone

import dagster as dg

from authpulse_dagster.sensors.backfill import SILVER_GOLD, TRIGGER_TAG
from authpulse_dagster.sensors.config import OpsConfig

RECONCILE_JOB = "reconcile_silver_gold"
SCHEDULE_NAME = "reconcile_silver_gold_daily"


def build_reconcile_job() -> dg.UnresolvedAssetJobDefinition:
    """Silver + gold for the chosen day(s), from what bronze holds (no bronze re-read of landing files).

    Its partitions are the assets' daily partitions (Dagster infers them).
    """
    return dg.define_asset_job(
        RECONCILE_JOB,
        selection=SILVER_GOLD,
        description="Rebuild silver and gold for the chosen day(s) from bronze: the daily reconciliation "
        "with the streaming output, and what lag/late-data backfills run.",
    )


def build_schedules(job: dg.UnresolvedAssetJobDefinition, ops: OpsConfig) -> list[dg.ScheduleDefinition]:
    """One schedule: every day at ``ops.schedule_hour``:00 UTC, the partition of the day before."""

    @dg.schedule(
        name=SCHEDULE_NAME,
        job=job,
        cron_schedule=f"0 {ops.schedule_hour} * * *",
        execution_timezone="UTC",
        description=f"Every day at {ops.schedule_hour:02d}:00 UTC: materialize yesterday's silver and gold "
        "partitions (reconciliation with the streaming output).",
        default_status=dg.DefaultScheduleStatus.RUNNING if ops.sensors_on else dg.DefaultScheduleStatus.STOPPED,
    )
    def reconcile_silver_gold_daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        # The tick's own time, not "now": a tick the daemon catches up on later still means its own yesterday.
        yesterday = (context.scheduled_execution_time.astimezone(timezone.utc).date() - timedelta(days=1)).isoformat()
        return dg.RunRequest(run_key=yesterday, partition_key=yesterday, tags={TRIGGER_TAG: SCHEDULE_NAME})

    return [reconcile_silver_gold_daily]
