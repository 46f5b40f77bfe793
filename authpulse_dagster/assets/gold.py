"""Gold: access history, user behaviour and host popularity."""


import dagster as dg

from authpulse_dagster.lakehouse.schemas import AUTH_EVENTS, HOST_POPULARITY, USER_BEHAVIOR, USER_HOST_DAILY, TableDef
from authpulse_dagster.resources.step_runner import LocalStepRunner


def gold_asset(table: TableDef, step: str, deps: list, partitions_def: dg.PartitionsDefinition):
    @dg.asset(
        name=table.name,
        group_name="gold",
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=deps,
        kinds={"spark", "iceberg"},
        description=table.description,
    )
    def _asset(context: dg.AssetExecutionContext, step_runner: LocalStepRunner):
        yield from step_runner.run(context, step)

    return _asset


def build_gold_assets(partitions_def: dg.PartitionsDefinition) -> list:
    # user_behavior and host_popularity for day D also read user_host_daily for
    # the lookback days before D. The edge is kept same-day on purpose: a
    # lookback reaching before the first partition would need Dagster's beta
    # `allow_nonexistent_upstream_partitions`, and missing history days simply
    # mean "nothing seen before", which is the truth for the first days.
    return [
        gold_asset(USER_HOST_DAILY, "user_host_daily", [AUTH_EVENTS.name], partitions_def),
        gold_asset(USER_BEHAVIOR, "user_behavior", [AUTH_EVENTS.name, USER_HOST_DAILY.name], partitions_def),
        gold_asset(HOST_POPULARITY, "host_popularity", [USER_HOST_DAILY.name], partitions_def),
    ]
