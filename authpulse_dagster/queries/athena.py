"""Investigation queries on Amazon Athena (``AUTHPULSE_ENV=aws``).

The same named queries that run on DuckDB locally run here on Athena over the
Glue catalog: ``authpulse query`` and the ``athena_query`` Dagster job both end
in :func:`execute`. It starts the query in the configured workgroup with the
configured output location (``AUTHPULSE_ATHENA_WORKGROUP``,
``AUTHPULSE_ATHENA_OUTPUT``) and the ``authpulse`` Glue database as the default
schema, polls ``GetQueryExecution`` until the query ends or ``timeout_s`` passes
(then stops it), and pages through ``GetQueryResults`` into a typed
``pyarrow.Table``. Failures are one line: the query id, the state and Athena's
reason (error category/type/message).

boto3 directly rather than dagster-aws's ``AthenaClient``: that client sets no
``ResultConfiguration``/``QueryExecutionContext``, builds its own boto3
clients (bypassing ``aws_client``) and reads the CSV from S3 without the
column types.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable, Mapping

import pyarrow as pa

from authpulse_dagster.errors import AuthPulseError
from authpulse_dagster.settings import Settings

RUNNING_STATES = ("QUEUED", "RUNNING")


class AthenaQueryError(AuthPulseError):
    """An Athena query failed, was cancelled or did not finish in time."""

    exit_code = 1


class AthenaTimeout(AthenaQueryError):
    """The query was still running at the deadline (it has been stopped)."""


@dataclass
class AthenaResult:
    query_execution_id: str
    output_location: str
    table: pa.Table
    statistics: dict[str, Any] = field(default_factory=dict)


# Athena type → (arrow type, parser of Athena's string rendering)
_TYPES: dict[str, tuple[pa.DataType, Callable[[str], Any]]] = {
    "boolean": (pa.bool_(), lambda v: v.lower() == "true"),
    "tinyint": (pa.int64(), int),
    "smallint": (pa.int64(), int),
    "integer": (pa.int64(), int),
    "int": (pa.int64(), int),
    "bigint": (pa.int64(), int),
    "double": (pa.float64(), float),
    "float": (pa.float64(), float),
    "real": (pa.float64(), float),
    "date": (pa.date32(), date.fromisoformat),
    "timestamp": (pa.timestamp("us"), datetime.fromisoformat),
}
_STRING = (pa.string(), str)


def _athena_client(settings: Settings) -> Any:
    from authpulse_dagster.aws import aws_client

    return aws_client("athena", settings)


def execute(
    sql: str,
    settings: Settings,
    *,
    timeout_s: float = 300.0,
    poll_s: float = 1.0,
    client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> AthenaResult:
    """Run ``sql`` on Athena and return its rows (see module doc)."""
    aws = settings.require_aws()
    client = client or _athena_client(settings)
    started = client.start_query_execution(
        QueryString=sql,
        WorkGroup=aws.athena_workgroup,
        QueryExecutionContext={"Catalog": "AwsDataCatalog", "Database": aws.glue_database},
        ResultConfiguration={"OutputLocation": f"{aws.athena_output}/"},
    )
    qid = started["QueryExecutionId"]
    deadline = time.monotonic() + timeout_s
    while True:
        execution = client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        state = execution["Status"]["State"]
        if state not in RUNNING_STATES:
            break
        if time.monotonic() >= deadline:
            client.stop_query_execution(QueryExecutionId=qid)
            raise AthenaTimeout(
                f"Athena query {qid} did not finish within {timeout_s:g}s (still {state}); it was stopped. "
                "Give it more time (--timeout / timeout_s) or narrow the query"
            )
        sleep(poll_s)
    if state != "SUCCEEDED":
        raise AthenaQueryError(failure_message(qid, execution))
    table = _fetch(client, qid)
    return AthenaResult(
        query_execution_id=qid,
        output_location=execution.get("ResultConfiguration", {}).get("OutputLocation", ""),
        table=table,
        statistics=execution.get("Statistics", {}),
    )


def run_athena(sql: str, settings: Settings, timeout_s: float = 300.0, **kwargs: Any) -> pa.Table:
    """Run ``sql`` on Athena; the rows as a typed ``pyarrow.Table``."""
    return execute(sql, settings, timeout_s=timeout_s, **kwargs).table


def run_named(name: str, params: Mapping[str, str], settings: Settings, timeout_s: float = 300.0) -> AthenaResult:
    """Render a named investigation query (``authpulse_dagster.queries.render``) and run it on Athena."""
    from authpulse_dagster.queries import render

    return execute(render(name, dict(params)), settings, timeout_s=timeout_s)


def failure_message(qid: str, execution: Mapping[str, Any]) -> str:
    status = execution.get("Status", {})
    state = status.get("State")
    error = status.get("AthenaError") or {}
    parts = [f"Athena query {qid} {state.lower() if state else 'ended'}"]
    detail = [str(error[k]) for k in ("ErrorCategory", "ErrorType") if k in error]
    reason = error.get("ErrorMessage") or status.get("StateChangeReason")
    if detail:
        parts.append("error " + "/".join(detail))
    if reason:
        parts.append(str(reason))
    elif state == "CANCELLED":
        parts.append("it was cancelled before it finished (by a user or the workgroup's limits)")
    return ": ".join(parts)


def _fetch(client: Any, qid: str) -> pa.Table:
    columns: list[dict] | None = None
    rows: list[list[str | None]] = []
    for page in client.get_paginator("get_query_results").paginate(QueryExecutionId=qid):
        result = page["ResultSet"]
        if columns is None:
            columns = result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
        rows += [[d.get("VarCharValue") for d in r.get("Data", [])] for r in result.get("Rows", [])]
    columns = columns or []
    names = [c.get("Name") or c.get("Label") or f"_col{i}" for i, c in enumerate(columns)]
    # A SELECT's first row repeats the column names (DDL results have no such row).
    if rows and names and rows[0] == names:
        rows = rows[1:]
    arrays = []
    for i, column in enumerate(columns):
        arrow_type, parse = _TYPES.get(str(column.get("Type", "")).lower(), _STRING)
        values = [row[i] if i < len(row) else None for row in rows]
        arrays.append(pa.array([None if v is None else parse(v) for v in values], type=arrow_type))
    return pa.Table.from_arrays(arrays, names=names) if columns else pa.table({})
