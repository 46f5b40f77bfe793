"""Step names → step functions: the contract between a step runner and the steps."""

from __future__ import annotations

from typing import Callable

from authpulse_dagster.steps import bronze, gold, risk, silver
from authpulse_dagster.steps import dashboard
from authpulse_dagster.steps.context import StepContext, StepResult

STEPS: dict[str, Callable[[StepContext], StepResult]] = {
    "bronze": bronze.run,
    "silver": silver.run,
    "user_host_daily": gold.run_user_host_daily,
    "user_behavior": gold.run_user_behavior,
    "host_popularity": gold.run_host_popularity,
    **risk.RISK_STEPS,
    "risk_dashboard": dashboard.run_dashboard,
}


# Every batch step of the daily pipeline, in dependency order (what one single-run backfill runs).
PIPELINE_STEPS: list[str] = [
    "bronze", "silver", "user_host_daily", "user_behavior", "host_popularity",
    "user_route_daily", "risk_scores", "user_risk_daily", "alerts",
]


def run_step(name: str, ctx: StepContext) -> StepResult:
    try:
        step = STEPS[name]
    except KeyError:
        raise ValueError(f"unknown step {name!r}; known: {', '.join(STEPS)}") from None
    return step(ctx)
