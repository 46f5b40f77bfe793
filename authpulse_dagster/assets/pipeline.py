"""The daily assets, built from the pipeline registry (``authpulse_dagster.pipeline``).

One asset per table; a step that writes several tables (silver: events and
quarantine) is one multi-asset. Every asset is daily-partitioned with a
single-run backfill policy (a range of days is one Spark application) and
runs its step through the ``step_runner`` resource, so where Spark runs is
the resource's business.
"""

import dagster as dg

from authpulse_dagster.lakehouse.schemas import LATE_EVENTS, RAW_EVENTS
from authpulse_dagster.pipeline import LANDING_FILES, PIPELINE, PipelineStep
from authpulse_dagster.resources.step_runner import LocalStepRunner

LANDING = dg.AssetSpec(
    LANDING_FILES,
    group_name="bronze",
    description="LANL files dropped under $AUTHPULSE_HOME/landing/<lanl2014|lanl2015>/ (plain, .gz or .bz2).",
    kinds={"file"},
)


# Written by the streaming job, not by a Dagster run: in the lineage so its readers
# (the late-data sensor's backfills) are visible, never materialized from here.
LATE = dg.AssetSpec(
    LATE_EVENTS.name,
    group_name="silver",
    deps=[RAW_EVENTS.name],
    description=LATE_EVENTS.description + " Written by the streaming job.",
    kinds={"spark", "iceberg"},
)


def _asset(step: PipelineStep, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    specs = [
        dg.AssetSpec(
            t.name,
            group_name=step.group,
            deps=list(step.reads),
            kinds=set(step.kinds),
            description=step.description if len(step.writes) == 1 and step.description else t.description,
        )
        for t in step.writes
    ]
    checks = [dg.AssetCheckSpec(c.name, asset=c.asset, description=c.description) for c in step.checks]

    @dg.multi_asset(
        name=step.name,
        specs=specs,
        check_specs=checks or None,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def _run(context: dg.AssetExecutionContext, step_runner: LocalStepRunner):
        yield from step_runner.run(context, step.name)

    return _run


def build_pipeline_assets(partitions_def: dg.PartitionsDefinition) -> list:
    return [LANDING, LATE, *(_asset(s, partitions_def) for s in PIPELINE)]
