"""Step names → step functions: the contract between a step runner and the steps.

The daily steps come from the pipeline registry (``authpulse_dagster.pipeline``);
the others are the unpartitioned work a step runner can also run.
"""

from __future__ import annotations

from typing import Callable

from authpulse_dagster.pipeline import PIPELINE
from authpulse_dagster.steps import dashboard, maintenance
from authpulse_dagster.steps.context import StepContext, StepResult

STEPS: dict[str, Callable[[StepContext], StepResult]] = {
    **{s.name: s.run for s in PIPELINE},
    "risk_dashboard": dashboard.run_dashboard,
    maintenance.ASSET: maintenance.run,
}

# Every batch step of the daily pipeline, in dependency order (what one single-run backfill runs).
PIPELINE_STEPS: list[str] = [s.name for s in PIPELINE]


def run_step(name: str, ctx: StepContext) -> StepResult:
    try:
        step = STEPS[name]
    except KeyError:
        raise ValueError(f"unknown step {name!r}; known: {', '.join(STEPS)}") from None
    return step(ctx)
