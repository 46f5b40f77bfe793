"""The seam between an asset and where its Spark work runs.

An asset names a step (``authpulse_dagster.steps.registry.STEPS``) and the
days to build; a step runner runs it and returns its metadata and check
outcomes. ``LocalStepRunner`` runs the step in the Dagster run's own process
on local Spark (one session per run: the definitions use the in-process
executor, so a single-run backfill starts Spark once). An AWS runner will
submit ``python -m authpulse_dagster.steps <step> ...`` as an EMR step through
Dagster Pipes and return the same :class:`StepResult` (not built yet: see
README).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Optional, Protocol

import dagster as dg

from authpulse_dagster.settings import Settings
from authpulse_dagster.steps.context import StepContext, StepResult


class StepRunner(Protocol):
    """What every runner offers: run a named step over some days."""

    def run(self, step: str, days: list[date], run_id: str, asset_partition: str = "") -> StepResult: ...


class LocalStepRunner(dg.ConfigurableResource):
    """Runs steps in this process on local Spark."""

    home: Optional[str] = None  # overrides AUTHPULSE_HOME, e.g. in tests

    def settings(self) -> Settings:
        settings = Settings.from_env()
        return replace(settings, home=Path(self.home).resolve()) if self.home else settings

    def run(self, step: str, days: list[date], run_id: str, asset_partition: str = "") -> StepResult:
        from authpulse_dagster.steps.registry import run_step

        return run_step(step, StepContext(self.settings(), days, run_id, asset_partition))
