"""Silver: ``raw_events`` → ``auth_events`` + ``quarantine``, with their checks."""


import dagster as dg

from authpulse_dagster.lakehouse.schemas import AUTH_EVENTS, QUARANTINE, RAW_EVENTS
from authpulse_dagster.resources.step_runner import LocalStepRunner
from authpulse_dagster.steps import silver as silver_step

CHECK_SPECS = [
    dg.AssetCheckSpec(silver_step.CHECK_UNIQUE, asset=AUTH_EVENTS.name, description="event_id is unique per partition"),
    dg.AssetCheckSpec(silver_step.CHECK_NOT_NULL, asset=AUTH_EVENTS.name, description="no null user_id or computer_id"),
    dg.AssetCheckSpec(
        silver_step.CHECK_CONSERVATION,
        asset=AUTH_EVENTS.name,
        description="bronze rows = silver rows + quarantined + duplicates removed, per day",
    ),
    dg.AssetCheckSpec(
        silver_step.CHECK_QUARANTINE_RATE,
        asset=QUARANTINE.name,
        description=f"warns when more than {silver_step.QUARANTINE_RATE_WARN:.0%} of bronze rows are quarantined",
    ),
]


def build_silver_assets(partitions_def: dg.PartitionsDefinition) -> list:
    @dg.multi_asset(
        name="silver",
        specs=[
            dg.AssetSpec(
                AUTH_EVENTS.name,
                group_name="silver",
                deps=[RAW_EVENTS.name],
                kinds={"spark", "iceberg"},
                description=AUTH_EVENTS.description,
            ),
            dg.AssetSpec(
                QUARANTINE.name,
                group_name="silver",
                deps=[RAW_EVENTS.name],
                kinds={"spark", "iceberg"},
                description=QUARANTINE.description,
            ),
        ],
        check_specs=CHECK_SPECS,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def silver(context: dg.AssetExecutionContext, step_runner: LocalStepRunner):
        yield from step_runner.run(context, "silver")

    return [silver]
