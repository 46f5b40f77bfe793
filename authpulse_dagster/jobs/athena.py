"""``athena_query``: run a named investigation query (or SQL text) on Athena from Dagster.

Run config (op ``athena_query_op``)::

    ops:
      athena_query_op:
        config: {name: risky_users, params: {day: "2024-01-03"}}

The rows land in the run as output metadata: row count, the Athena query id,
the S3 result file and a preview. AWS mode only (locally the same named
queries run on DuckDB through ``authpulse query``).
"""


from typing import Dict

import dagster as dg


class AthenaQueryConfig(dg.Config):
    name: str = ""  # a named query (authpulse_dagster.queries.render)
    params: Dict[str, str] = {}
    sql: str = ""  # or the SQL itself
    timeout_s: float = 300.0
    preview_rows: int = 20


def resolve_sql(config: AthenaQueryConfig) -> str:
    if bool(config.name) == bool(config.sql):
        raise dg.Failure("give exactly one of `name` (a named query) or `sql`")
    if config.sql:
        if config.params:
            raise dg.Failure("`params` go with a named query (`name`), not with `sql`")
        return config.sql
    from authpulse_dagster.queries import render

    return render(config.name, dict(config.params))


def _preview(table, n: int) -> str:
    head = table.slice(0, n).to_pylist()
    if not table.column_names:
        return "(no columns)"
    lines = ["| " + " | ".join(table.column_names) + " |", "|" + "---|" * len(table.column_names)]
    lines += ["| " + " | ".join("" if r[c] is None else str(r[c]) for c in table.column_names) + " |" for r in head]
    return "\n".join(lines)


@dg.op(description="Run a named investigation query (or SQL) on Athena; rows go to the output metadata.")
def athena_query_op(context: dg.OpExecutionContext, config: AthenaQueryConfig):
    from authpulse_dagster.queries.athena import execute
    from authpulse_dagster.resources.run_settings import run_settings

    sql = resolve_sql(config)
    result = execute(sql, run_settings(), timeout_s=config.timeout_s)
    context.log.info(f"Athena query {result.query_execution_id}: {result.table.num_rows} rows")
    yield dg.Output(
        None,
        metadata={
            "query": config.name or "(sql)",
            "dagster/row_count": result.table.num_rows,
            "query_execution_id": result.query_execution_id,
            "output_location": dg.MetadataValue.path(result.output_location),
            "sql": dg.MetadataValue.md(f"```sql\n{sql}\n```"),
            "preview": dg.MetadataValue.md(_preview(result.table, config.preview_rows)),
        },
    )


@dg.job(description="Run a named investigation query on Athena (AWS mode).")
def athena_query():
    athena_query_op()


ATHENA_JOBS = [athena_query]
