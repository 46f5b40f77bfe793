"""The ``maintain_tables`` step: Iceberg maintenance for every AuthPulse table (see ``lakehouse/maintenance.py``).

Unpartitioned: it works on whole tables, so ``ctx.days`` is provenance only.
The policy comes from the settings (retention of snapshots, age of orphans).
"""

from __future__ import annotations

import time
from datetime import timedelta

from authpulse_dagster.lakehouse.maintenance import MaintenancePolicy, maintain
from authpulse_dagster.lakehouse.schemas import TABLES
from authpulse_dagster.steps.context import StepContext, StepResult

ASSET = "table_maintenance"
FIGURES = ("data_files", "snapshots", "manifests", "metadata_bytes", "storage_bytes")


def policy_for(ctx: StepContext) -> MaintenancePolicy:
    s = ctx.settings
    return MaintenancePolicy(
        snapshot_retention=timedelta(hours=s.snapshot_retention_hours),
        retain_last=s.snapshot_retain_last,
        orphan_age=timedelta(hours=s.orphan_file_age_hours),
    )


def run(ctx: StepContext) -> StepResult:
    """Maintain every table; the metadata holds each table's figures before/after and the totals."""
    policy = policy_for(ctx)
    started = time.monotonic()
    tables = {}
    for name, table_def in TABLES.items():
        t = time.monotonic()
        tables[name] = {**maintain(ctx.spark, table_def, policy), "seconds": round(time.monotonic() - t, 3)}
    totals = {
        f"{figure}_{when}": sum(r[when][figure] for r in tables.values()) for figure in FIGURES for when in ("before", "after")
    }
    return StepResult(metadata={ASSET: {**totals, "tables": tables, "seconds": round(time.monotonic() - started, 3)}})
