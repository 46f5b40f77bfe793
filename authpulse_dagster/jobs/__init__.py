"""Jobs: ``daily_pipeline`` materializes bronze → silver → gold for a day or a range of days; ``refresh_dashboard``."""

from __future__ import annotations

import dagster as dg


def build_jobs() -> list:
    daily_pipeline = dg.define_asset_job(
        "daily_pipeline",
        selection=dg.AssetSelection.groups("bronze", "silver", "gold") - dg.AssetSelection.assets("landing_files"),
        description="Bronze → silver → gold for the chosen day(s); a range runs as one Spark application.",
    )
    refresh_dashboard = dg.define_asset_job(
        "refresh_dashboard",
        selection=dg.AssetSelection.groups("analyst"),
        description="Rebuild the risk dashboard page (the analyst_automation sensor also does this when gold changes).",
    )
    return [daily_pipeline, refresh_dashboard]
