"""Bronze: landed LANL files → ``raw_events``."""


import dagster as dg

from authpulse_dagster.lakehouse.schemas import RAW_EVENTS
from authpulse_dagster.resources.step_runner import LocalStepRunner

LANDING = dg.AssetSpec(
    "landing_files",
    group_name="bronze",
    description="LANL files dropped under $AUTHPULSE_HOME/landing/<lanl2014|lanl2015>/ (plain, .gz or .bz2).",
    kinds={"file"},
)


def build_bronze_assets(partitions_def: dg.PartitionsDefinition) -> list:
    @dg.asset(
        name=RAW_EVENTS.name,
        group_name="bronze",
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[LANDING.key],
        kinds={"python", "iceberg"},
        description=(
            "Every landed line as received (payload bytes, file, line number, ingest time), filed under the day of "
            "its time; nothing is dropped. Streams files in chunks on the driver (gzip does not split)."
        ),
    )
    def raw_events(context: dg.AssetExecutionContext, step_runner: LocalStepRunner):
        yield from step_runner.run(context, "bronze")

    return [LANDING, raw_events]
