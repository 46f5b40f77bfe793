"""The one ``Definitions`` of the AuthPulse code location.

Everything is assembled here from the environment (``AUTHPULSE_ENV``, read
when the code location loads). Resource keys are the same in every
environment; only what sits behind them changes.
"""

from __future__ import annotations

import warnings

import dagster as dg

from authpulse_dagster.assets.dashboard import build_dashboard_assets, build_dashboard_sensors
from authpulse_dagster.assets.maintenance import build_maintenance
from authpulse_dagster.assets.pipeline import build_pipeline_assets
from authpulse_dagster.jobs import build_jobs
from authpulse_dagster.jobs.athena import ATHENA_JOBS
from authpulse_dagster.jobs.streaming import STREAMING_JOBS
from authpulse_dagster.partitions import daily_partitions
from authpulse_dagster.resources.step_runner import LocalStepRunner
from authpulse_dagster.resources.streaming import StreamingJobResource
from authpulse_dagster.settings import LOCAL, Settings
from authpulse_dagster.checks.freshness import build_freshness_checks
from authpulse_dagster.schedules import build_reconcile_job, build_schedules
from authpulse_dagster.sensors import OpsConfig, build_sensors


# Single-run backfills (one Spark application for a range of days) need
# `backfill_policy`, which Dagster 1.13 still labels beta. We rely on it on
# purpose (README, "Backfills"), so its label is not news on every load.
warnings.filterwarnings("ignore", message=r".*`backfill_policy`.*beta", category=dg.BetaWarning)


def build_resources(settings: Settings) -> dict:
    if settings.env == LOCAL:
        return {"step_runner": LocalStepRunner(mode=settings.step_mode), "streaming": StreamingJobResource()}
    # AWS: the same keys, backed by EMR (steps through Dagster Pipes; the stream as a long-running step).
    # Loading the settings has already checked every AWS variable, so a missing one never gets this far.
    from authpulse_dagster.aws_emr.step_runner import EmrStepRunner
    from authpulse_dagster.aws_emr.streaming import EmrStreamingJobResource

    settings.require_aws()
    return {"step_runner": EmrStepRunner(), "streaming": EmrStreamingJobResource()}


def build_definitions(settings: Settings) -> dg.Definitions:
    partitions = daily_partitions(settings)
    # The daily tables, one asset each, from the pipeline registry (authpulse_dagster/pipeline.py).
    assets = build_pipeline_assets(partitions)
    # Operations (sensors, the reconciliation schedule, gold freshness checks): sensors/config.py.
    ops = OpsConfig.from_env()
    reconcile = build_reconcile_job()
    freshness = build_freshness_checks(assets, ops)
    maintenance_assets, maintain_job, maintain_schedule = build_maintenance(ops.sensors_on)
    return dg.Definitions(
        # The page and the maintenance come after the freshness checks: they get none.
        assets=[*assets, *build_dashboard_assets(), *maintenance_assets],
        asset_checks=freshness.checks,
        jobs=[*build_jobs(), *STREAMING_JOBS, *ATHENA_JOBS, reconcile, maintain_job],
        schedules=[*build_schedules(reconcile, ops), maintain_schedule],
        sensors=[
            *build_sensors(settings, ops),
            *([freshness.sensor] if freshness.sensor else []),
            *build_dashboard_sensors(),
        ],
        resources=build_resources(settings),
        # One process per run: its steps share a single local Spark session.
        executor=dg.in_process_executor,
    )


# The code location's entry point: the one place Dagster-loaded code reads the environment.
defs = build_definitions(Settings.from_env())
