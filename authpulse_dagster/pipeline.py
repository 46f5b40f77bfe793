"""The pipeline, described once: every daily step, what it reads and what it writes.

The Dagster assets are built from this list (``assets/pipeline.py``), the
streaming job runs its ``in_stream`` steps for the days a micro-batch touched,
the step entry point and the benchmarks walk it. Adding a table is one entry
here (plus its ``TableDef`` in ``lakehouse/schemas.py`` and its transform).

The list is in dependency order: a step only reads tables written by steps
before it (or, for lookbacks, by its own earlier days). Lookback reads of
earlier days are not declared as partition dependencies: a lookback reaching
before the first partition would need Dagster's beta
``allow_nonexistent_upstream_partitions``, and missing history days simply mean
"nothing seen before", which is the truth for the first days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from authpulse_dagster.lakehouse.schemas import (
    ALERT_DELIVERIES,
    ALERTS,
    AUTH_EVENTS,
    HOST_POPULARITY,
    HOST_RISK_DAILY,
    QUARANTINE,
    RAW_EVENTS,
    RISK_SCORES,
    USER_BEHAVIOR,
    USER_HOST_DAILY,
    USER_RISK_DAILY,
    USER_ROUTE_DAILY,
    TableDef,
)
from authpulse_dagster.steps import bronze, gold, risk, silver
from authpulse_dagster.steps.context import StepContext, StepResult
from authpulse_dagster.steps.silver import CHECKS as SILVER_CHECKS, CheckDef

LANDING_FILES = "landing_files"  # the external asset bronze reads (files, not a table)


@dataclass(frozen=True)
class PipelineStep:
    """One Spark step: its name (the asset or multi-asset name), inputs, outputs and code."""

    name: str
    run: Callable[[StepContext], StepResult]
    writes: tuple[TableDef, ...]
    reads: tuple[str, ...]  # asset names this step reads for the same days
    group: str
    in_stream: bool = True  # run for the days a streaming micro-batch touched
    # In the stream a failure of this step is reported and retried with the next batch, never raised
    # (SNS down must not stop ingestion); in batch it fails the run as usual.
    best_effort_in_stream: bool = False
    checks: tuple[CheckDef, ...] = ()
    kinds: frozenset[str] = frozenset({"spark", "iceberg"})
    description: str = ""

    @property
    def assets(self) -> list[str]:
        return [t.name for t in self.writes]


PIPELINE: tuple[PipelineStep, ...] = (
    PipelineStep(
        "bronze", bronze.run, (RAW_EVENTS,), (LANDING_FILES,), "bronze", in_stream=False,
        description="Every landed line as received (payload bytes, file, line number, ingest time), filed under the "
        "day of its time; nothing is dropped. Each file is read by one Spark task (gzip does not split).",
    ),
    PipelineStep("silver", silver.run, (AUTH_EVENTS, QUARANTINE), (RAW_EVENTS.name,), "silver", in_stream=False,
                 checks=SILVER_CHECKS),
    PipelineStep("user_host_daily", gold.run_user_host_daily, (USER_HOST_DAILY,), (AUTH_EVENTS.name,), "gold"),
    PipelineStep("user_behavior", gold.run_user_behavior, (USER_BEHAVIOR,), (AUTH_EVENTS.name, USER_HOST_DAILY.name), "gold"),
    PipelineStep("host_popularity", gold.run_host_popularity, (HOST_POPULARITY,), (USER_HOST_DAILY.name,), "gold"),
    PipelineStep("user_route_daily", risk.run_user_route_daily, (USER_ROUTE_DAILY,), (AUTH_EVENTS.name,), "gold"),
    PipelineStep(
        "risk_scores", risk.run_risk_scores, (RISK_SCORES,),
        (AUTH_EVENTS.name, USER_HOST_DAILY.name, USER_BEHAVIOR.name, HOST_POPULARITY.name, USER_ROUTE_DAILY.name), "gold",
    ),
    PipelineStep(
        "host_risk_daily", risk.run_host_risk_daily, (HOST_RISK_DAILY,),
        (USER_HOST_DAILY.name, USER_ROUTE_DAILY.name, RISK_SCORES.name), "gold",
        description="Hosts as entities: users new to each computer against its own history and its peers, new sources, "
        "the risk of its new users' events; decaying like users' risk.",
    ),
    PipelineStep("user_risk_daily", risk.run_user_risk_daily, (USER_RISK_DAILY,), (RISK_SCORES.name, HOST_RISK_DAILY.name), "gold"),
    PipelineStep("alerts", risk.run_alerts, (ALERTS,), (USER_RISK_DAILY.name, HOST_RISK_DAILY.name, RISK_SCORES.name), "gold"),
    PipelineStep(
        "alert_deliveries", risk.run_alert_deliveries, (ALERT_DELIVERIES,), (ALERTS.name,), "gold",
        best_effort_in_stream=True, kinds=frozenset({"sns", "iceberg"}),
    ),
)


def step(name: str) -> PipelineStep:
    for s in PIPELINE:
        if s.name == name:
            return s
    raise ValueError(f"unknown pipeline step {name!r}; known: {', '.join(s.name for s in PIPELINE)}")


def stream_steps() -> list[PipelineStep]:
    """What a streaming micro-batch runs after it has landed bronze and silver, in order."""
    return [s for s in PIPELINE if s.in_stream]


def table_owner() -> dict[str, PipelineStep]:
    """Table name → the step that writes it."""
    return {t.name: s for s in PIPELINE for t in s.writes}
