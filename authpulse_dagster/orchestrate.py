"""Running the Dagster job headless, against the persistent local instance.

``make demo`` and ``authpulse demo`` materialize through Dagster, not around
it: the runs, materializations and check results land in the instance under
``$AUTHPULSE_HOME/dagster``, so ``dagster dev`` shows them afterwards.
"""

from __future__ import annotations

import os
from datetime import date

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from authpulse_dagster.settings import Settings

DAGSTER_YAML = """\
# Written by AuthPulse for the local instance. Edit freely; it is not overwritten.
telemetry:
  enabled: false
"""


def ensure_dagster_home(settings: Settings) -> str:
    """Create the instance folder with a dagster.yaml and point DAGSTER_HOME at it."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return str(home)


def materialize_days(
    defs: dg.Definitions,
    first: date,
    last: date,
    instance: dg.DagsterInstance,
    log_level: str = "WARNING",
    assets: list[str] | None = None,
) -> dg.ExecuteInProcessResult:
    """Run ``daily_pipeline`` (or only ``assets`` of it) once over [first, last] as a single-run backfill would."""
    job = defs.resolve_job_def("daily_pipeline")
    tags = {ASSET_PARTITION_RANGE_START_TAG: first.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat()}
    # The console logger would print every Dagster event; the run log stays complete in the instance.
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    selection = [dg.AssetKey(a) for a in assets] if assets else None
    return job.execute_in_process(
        instance=instance, tags=tags, run_config=run_config, raise_on_error=False, asset_selection=selection
    )
