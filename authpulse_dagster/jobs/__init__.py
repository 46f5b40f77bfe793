"""Jobs: ``daily_pipeline`` materializes bronze → silver → gold for a day or a range of days."""

from __future__ import annotations

import dagster as dg


def build_jobs() -> list:
    daily_pipeline = dg.define_asset_job(
        "daily_pipeline",
        selection=dg.AssetSelection.groups("bronze", "silver", "gold") - dg.AssetSelection.assets("landing_files"),
        description="Bronze → silver → gold for the chosen day(s); a range runs as one Spark application.",
    )
    return [daily_pipeline]
