"""Table maintenance as Dagster work: the ``table_maintenance`` asset, its job and its nightly schedule.

The asset's materialization metadata holds every table's data files,
snapshots, manifests and bytes before and after (``steps/maintenance.py``).
It runs through the same step runner as every Spark step, so on EMR it is an
EMR step. Run it from the UI, ``dagster job execute -j maintain_tables``, or
``authpulse maintain``.
"""

import dagster as dg

from authpulse_dagster.lakehouse.schemas import TABLES
from authpulse_dagster.resources.step_runner import LocalStepRunner
from authpulse_dagster.steps.maintenance import ASSET

JOB = "maintain_tables"


def build_maintenance(schedule_on: bool) -> tuple[list, object, dg.ScheduleDefinition]:
    @dg.asset(
        name=ASSET,
        group_name="maintenance",
        deps=list(TABLES),
        kinds={"spark", "iceberg"},
        description="Compacts small files (sort order kept), expires old snapshots, removes orphan files and "
        "rewrites manifests of every table; metadata: files, snapshots and bytes before/after per table.",
    )
    def table_maintenance(context: dg.AssetExecutionContext, step_runner: LocalStepRunner):
        yield from step_runner.run(context, ASSET)

    job = dg.define_asset_job(JOB, selection=[ASSET], description="Iceberg maintenance of every AuthPulse table.")
    schedule = dg.ScheduleDefinition(
        name="maintain_tables_nightly", job=job, cron_schedule="30 3 * * *", execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING if schedule_on else dg.DefaultScheduleStatus.STOPPED,
        description="Nightly table maintenance, after the daily reconcile.",
    )
    return [table_maintenance], job, schedule
