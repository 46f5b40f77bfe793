"""The dashboard step: read gold, build the page, write it under the data home.

No Spark: the dashboard reads small slices of the gold tables through
pyiceberg (see ``dashboard/io.py``), so it runs the same in process or as a
Pipes subprocess. It covers no particular day: ``ctx.days`` is provenance
only, the page always shows the newest data.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from authpulse_dagster.dashboard.build import build_page
from authpulse_dagster.dashboard.io import dashboard_path, read_dashboard_data, write_atomically
from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.steps.context import StepContext, StepResult

ASSET = "risk_dashboard"


def run_dashboard(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    data = read_dashboard_data(load_catalog(ctx.settings))
    page = build_page(data, generated_at=datetime.now(timezone.utc))
    path = dashboard_path(ctx.settings)
    size = write_atomically(path, page.html)
    return StepResult(
        metadata={
            ASSET: {
                "path": str(path),
                "bytes": size,
                "charts": list(page.charts),
                "data_as_of": page.as_of.isoformat() if page.as_of else "no data yet",
                "window_start": data.start.isoformat() if data.start else "no data yet",
                "top_users": page.top_users,
                "alerts_in_window": page.alerts_in_window,
                "seconds": round(time.monotonic() - started, 3),
            }
        }
    )
