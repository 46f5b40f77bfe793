"""How a step reads its inputs and replaces its days: the one write path of every batch step."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from pyspark.sql import Column, DataFrame

from authpulse_dagster.lakehouse import spark_tables
from authpulse_dagster.lakehouse.schemas import TableDef
from authpulse_dagster.steps.context import StepContext, StepResult


def read_days(ctx: StepContext, table_def: TableDef, first: date, last: date) -> DataFrame:
    return spark_tables.read_days(ctx.spark, table_def, first, last)


def write_days(ctx: StepContext, table_def: TableDef, df: DataFrame, only: Column | None = None,
               properties: dict[str, object] | None = None) -> dict[str, Any]:
    """Replace the step's days of ``table_def`` with ``df`` (one snapshot, provenance in its summary)."""
    props = {**ctx.snapshot_properties(table_def.name), **(properties or {})}
    return spark_tables.replace_days(df, table_def, ctx.days, props, only=only)


def result(table_def: TableDef, written: dict[str, Any], started: float, **extra: Any) -> StepResult:
    """The step's metadata for one table: counts, snapshot, where it lives, how long it took."""
    return StepResult(metadata={table_def.name: table_metadata(table_def, written, started, **extra)})


def table_metadata(table_def: TableDef, written: dict[str, Any], started: float, **extra: Any) -> dict[str, Any]:
    return {
        "rows": written["rows"],
        "rows_by_day": written["rows_by_day"],
        "snapshot_id": written["snapshot_id"],
        "table": table_def.identifier,
        "seconds": round(time.monotonic() - started, 3),
        **extra,
    }
