"""The one ``Definitions`` of the AuthPulse code location.

Everything is assembled here from the environment (``AUTHPULSE_ENV``, read
when the code location loads). Resource keys are the same in every
environment; only what sits behind them changes.
"""

from __future__ import annotations

import warnings

import dagster as dg

from authpulse_dagster.assets.bronze import build_bronze_assets
from authpulse_dagster.assets.gold import build_gold_assets
from authpulse_dagster.assets.silver import build_silver_assets
from authpulse_dagster.jobs import build_jobs
from authpulse_dagster.jobs.streaming import STREAMING_JOBS
from authpulse_dagster.partitions import daily_partitions
from authpulse_dagster.resources.step_runner import LocalStepRunner
from authpulse_dagster.resources.streaming import StreamingJobResource
from authpulse_dagster.settings import LOCAL, Settings


# Single-run backfills (one Spark application for a range of days) need
# `backfill_policy`, which Dagster 1.13 still labels beta. We rely on it on
# purpose (README, "Backfills"), so its label is not news on every load.
warnings.filterwarnings("ignore", message=r".*`backfill_policy`.*beta", category=dg.BetaWarning)


def build_resources(settings: Settings) -> dict:
    if settings.env == LOCAL:
        return {"step_runner": LocalStepRunner(mode=settings.step_mode), "streaming": StreamingJobResource()}
    from authpulse_dagster.errors import ConfigError

    raise ConfigError("AUTHPULSE_ENV=aws is not built yet (see README, 'Not built yet'); unset it to run locally")


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    partitions = daily_partitions(settings)
    return dg.Definitions(
        assets=[
            *build_bronze_assets(partitions),
            *build_silver_assets(partitions),
            *build_gold_assets(partitions),
        ],
        jobs=[*build_jobs(), *STREAMING_JOBS],
        resources=build_resources(settings),
        # One process per run: its steps share a single local Spark session.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
