"""What a step gets to work with, and what it hands back.

A step is the Spark work behind one asset (or a few assets written
together). It sees only a :class:`StepContext` — settings, the days to
(re)build, provenance for snapshot summaries — and returns a
:class:`StepResult`. Nothing here knows about Dagster, so the same step runs
in-process under the local runner and as ``python -m authpulse_dagster.steps``
on a cluster (see ``steps/__main__.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any

from pyspark.sql import SparkSession

from authpulse_dagster.settings import Settings


@dataclass
class CheckOutcome:
    """Result of one data-quality check, computed where the data is."""

    asset: str
    name: str
    passed: bool
    severity: str = "ERROR"  # or "WARN"
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepResult:
    """Metadata per asset written by the step, plus check outcomes."""

    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: list[CheckOutcome] = field(default_factory=list)


@dataclass
class StepContext:
    settings: Settings
    days: list[date]
    run_id: str = "manual"
    asset_partition: str = ""
    path: str = "batch"  # or "stream": which path wrote a row (the alert ledger records it)
    open_spark: SparkSession | None = field(default=None, repr=False)  # the caller's session, e.g. a stream's

    def __post_init__(self) -> None:
        self.days = sorted(set(self.days))
        if not self.days:
            raise ValueError("a step needs at least one day")
        if not self.asset_partition:
            first, last = self.days[0], self.days[-1]
            self.asset_partition = first.isoformat() if first == last else f"{first}...{last}"

    @cached_property
    def spark(self) -> SparkSession:
        if self.open_spark is not None:
            return self.open_spark
        from authpulse_dagster.spark import get_spark

        return get_spark(self.settings)

    def snapshot_properties(self, asset: str) -> dict[str, str]:
        return {
            "authpulse.asset": asset,
            "authpulse.dagster_run_id": self.run_id,
            "authpulse.asset_partition": self.asset_partition,
        }

    def lookback_start(self, extra_days: int) -> date:
        return self.days[0] - timedelta(days=extra_days)


def days_between(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
