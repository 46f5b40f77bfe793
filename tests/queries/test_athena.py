"""Named queries on Athena: the calls, their arguments, polling, timeouts and errors (against the session's moto server).

moto does not run SQL: results are queued through its ``/moto-api/static/athena/query-results``
endpoint, and how long a query stays QUEUED is set through its state manager
(``/moto-api/state-manager/set-transition``). moto cannot make a query FAILED;
that message is checked on Athena's documented response shape.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import dagster as dg
import pytest

from authpulse_dagster.aws import aws_client
from authpulse_dagster.jobs.athena import athena_query
from authpulse_dagster.queries.athena import AthenaQueryError, AthenaTimeout, execute, failure_message, run_athena
from tests.fixtures.aws_mode import AwsMode, aws_mode  # noqa: F401

COLUMNS = [
    {"Name": "user_id", "Type": "varchar"},
    {"Name": "events", "Type": "bigint"},
    {"Name": "risk", "Type": "double"},
    {"Name": "alerted", "Type": "boolean"},
    {"Name": "event_date", "Type": "date"},
]


def _row(*values):
    return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}


def moto_api(endpoint: str, path: str, body: dict) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/{path}", data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request) as response:
        assert response.status in (200, 201)


def queue_result(endpoint: str, rows: list[dict], columns=COLUMNS) -> None:
    moto_api(endpoint, "static/athena/query-results", {"region": "us-east-1", "results": [{"rows": rows, "column_info": columns}]})


@pytest.fixture
def athena(aws_mode: AwsMode) -> AwsMode:
    aws_client("athena", aws_mode.settings).create_work_group(Name=aws_mode.settings.require_aws().athena_workgroup)
    return aws_mode


@pytest.fixture
def queries_stay_queued(moto_endpoint: str):
    moto_api(moto_endpoint, "state-manager/set-transition",
             {"model_name": "athena::execution", "transition": {"progression": "manual", "times": 100000}})
    yield
    moto_api(moto_endpoint, "state-manager/unset-transition", {"model_name": "athena::execution"})


def test_query_runs_in_the_workgroup_with_the_output_location(athena: AwsMode, moto_endpoint: str) -> None:
    queue_result(moto_endpoint, [
        _row("user_id", "events", "risk", "alerted", "event_date"),  # Athena's header row
        _row("U12", "40", "87.5", "true", "2024-01-03"),
        _row("U7", "3", None, "false", "2024-01-03"),
    ])
    aws = athena.settings.require_aws()
    result = execute("SELECT user_id, events FROM authpulse.user_risk_daily", athena.settings, timeout_s=10, poll_s=0.05)

    assert result.table.column_names == ["user_id", "events", "risk", "alerted", "event_date"]
    assert result.table.to_pylist() == [
        {"user_id": "U12", "events": 40, "risk": 87.5, "alerted": True, "event_date": __import__("datetime").date(2024, 1, 3)},
        {"user_id": "U7", "events": 3, "risk": None, "alerted": False, "event_date": __import__("datetime").date(2024, 1, 3)},
    ]
    execution = aws_client("athena", athena.settings).get_query_execution(QueryExecutionId=result.query_execution_id)["QueryExecution"]
    assert execution["Query"] == "SELECT user_id, events FROM authpulse.user_risk_daily"
    assert execution["WorkGroup"] == aws.athena_workgroup
    assert execution["QueryExecutionContext"] == {"Catalog": "AwsDataCatalog", "Database": "authpulse"}
    assert execution["ResultConfiguration"]["OutputLocation"] == f"{aws.athena_output}/{result.query_execution_id}.csv"
    assert result.output_location == execution["ResultConfiguration"]["OutputLocation"]


def test_run_athena_returns_the_table(athena: AwsMode, moto_endpoint: str) -> None:
    queue_result(moto_endpoint, [_row("n"), _row("7")], [{"Name": "n", "Type": "integer"}])
    assert run_athena("SELECT 7 AS n", athena.settings, timeout_s=10).to_pylist() == [{"n": 7}]


def test_a_query_past_its_timeout_is_stopped(athena: AwsMode, queries_stay_queued) -> None:
    started = time.monotonic()
    with pytest.raises(AthenaTimeout, match=r"did not finish within 0.5s \(still QUEUED\); it was stopped") as info:
        execute("SELECT 1", athena.settings, timeout_s=0.5, poll_s=0.05)
    assert time.monotonic() - started < 10
    qid = str(info.value).split()[2]
    state = aws_client("athena", athena.settings).get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]["State"]
    assert state == "CANCELLED"


def test_a_query_cancelled_elsewhere_is_a_clear_error(athena: AwsMode, queries_stay_queued) -> None:
    client = aws_client("athena", athena.settings)
    errors: list[Exception] = []

    def run() -> None:
        try:
            execute("SELECT 2", athena.settings, timeout_s=30, poll_s=0.05)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    wg = athena.settings.require_aws().athena_workgroup
    deadline = time.monotonic() + 10
    ids: list[str] = []
    while not ids and time.monotonic() < deadline:
        ids = client.list_query_executions(WorkGroup=wg)["QueryExecutionIds"]
        time.sleep(0.05)
    client.stop_query_execution(QueryExecutionId=ids[0])
    thread.join(timeout=30)
    assert len(errors) == 1 and isinstance(errors[0], AthenaQueryError)
    assert str(errors[0]).startswith(f"Athena query {ids[0]} cancelled")


def test_failure_message_carries_athenas_reason() -> None:
    execution = {
        "Status": {
            "State": "FAILED",
            "StateChangeReason": "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.authpulse.alertz' does not exist",
            "AthenaError": {"ErrorCategory": 2, "ErrorType": 1301,
                            "ErrorMessage": "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.authpulse.alertz' does not exist"},
        }
    }
    assert failure_message("q-1", execution) == (
        "Athena query q-1 failed: error 2/1301: TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.authpulse.alertz' does not exist"
    )


def test_athena_query_job_runs_a_named_query(athena: AwsMode, moto_endpoint: str) -> None:
    queue_result(moto_endpoint, [_row("user_id", "events", "risk", "alerted", "event_date"),
                                 _row("U12", "40", "87.5", "true", "2024-01-03")])
    result = athena_query.execute_in_process(run_config={"ops": {"athena_query_op": {"config": {
        "name": "top_risky_users", "params": {"day": "2024-01-03", "top": "5"}}}}})
    assert result.success
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    meta = output.step_output_data.metadata
    assert meta["dagster/row_count"].value == 1
    assert "| U12 | 40 | 87.5 | True | 2024-01-03 |" in meta["preview"].value
    qid = meta["query_execution_id"].value
    query = aws_client("athena", athena.settings).get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Query"]
    assert "FROM authpulse.user_risk_daily" in query and "2024-01-03" in query and "LIMIT 5" in query


def test_athena_query_job_needs_exactly_one_of_name_or_sql(athena: AwsMode) -> None:
    result = athena_query.execute_in_process(
        run_config={"ops": {"athena_query_op": {"config": {"name": "top_risky_users", "sql": "SELECT 1"}}}},
        raise_on_error=False,
    )
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert "exactly one of `name`" in failure.step_failure_data.error.message
    assert isinstance(athena_query, dg.JobDefinition)
