"""Every named query on DuckDB over real Iceberg tables holding known rows (tests/queries/seed.py)."""

from __future__ import annotations

from datetime import date

import pyarrow.dataset as ds
import pytest
from pyiceberg.types import StringType

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lakehouse.schemas import ALERTS, USER_RISK_DAILY
from tests.fixtures.lakehouse import write_rows
from authpulse_dagster.queries import list_queries
from authpulse_dagster.queries.duckdb_runner import arrow_source, connect, register_tables, run_local, run_sql
from tests.queries.seed import ALERT_ROWS, D5, ts, write_rows

SAMPLE_VALUES = {"user": "U1", "computer": "C1", "alert_id": "al-u1-d5"}


def rows(settings, name, **params):
    return run_local(settings, name, {k: str(v) for k, v in params.items()}).to_pylist()


def pick(result, *columns):
    return [tuple(r[c] for c in columns) for r in result]


@pytest.mark.parametrize("name", [q.name for q in list_queries()])
def test_every_query_runs_with_defaults(seeded_settings, name):
    spec = next(q for q in list_queries() if q.name == name)
    missing = [p.name for p in spec.params if p.required and p.name not in SAMPLE_VALUES]
    assert not missing, f"add sample values for {missing}"
    params = {p.name: SAMPLE_VALUES[p.name] for p in spec.params if p.required}
    assert rows(seeded_settings, name, **params), name


def test_top_risky_users(seeded_settings):
    result = rows(seeded_settings, "top_risky_users")
    assert pick(result, "user_id", "risk_score", "alert_severity", "alert_id") == [
        ("U1", 92.5, "critical", "al-u1-d5"),
        ("U2", 60.3, "high", "al-u2-d5"),
        ("U3", 0.0, None, None),
    ]
    assert result[0]["top_reasons"] == "new_host, off_hours, rare_host"
    assert result[0]["event_date"] == D5 and result[0]["high_risk_events"] == 2
    assert pick(rows(seeded_settings, "top_risky_users", top=1), "user_id") == [("U1",)]
    assert pick(rows(seeded_settings, "top_risky_users", day="2024-01-03"), "user_id", "alert_severity") == [
        ("U2", "medium"),
        ("U1", None),
    ]
    assert rows(seeded_settings, "top_risky_users", day="2023-12-31") == []


def test_user_timeline(seeded_settings):
    result = rows(seeded_settings, "user_timeline", user="U1")
    assert pick(result, "event_id", "score", "alert_severity") == [
        ("e7", 0, None), ("e4", 0, None), ("e1", 90, "critical"), ("e2", 60, "critical"), ("e3", 5, "critical"),
    ]
    assert result[2]["reasons"] == "new_host, rare_host, off_hours"
    assert result[2]["event_ts"] == ts(D5, 2, 5) and result[2]["src_computer_id"] == "C1"
    assert pick(rows(seeded_settings, "user_timeline", user="U1", min_score=50), "event_id") == [("e1",), ("e2",)]
    assert pick(rows(seeded_settings, "user_timeline", user="U1", days=1), "event_id") == [("e1",), ("e2",), ("e3",)]
    assert pick(rows(seeded_settings, "user_timeline", user="U2", day="2024-01-04", days=2), "event_id") == [("e6",)]


def test_a_quote_in_a_value_stays_data(seeded_settings):
    assert rows(seeded_settings, "user_timeline", user="U1' OR '1'='1") == []
    assert rows(seeded_settings, "alert_drilldown", alert_id="x' OR alert_id <> '") == []


def test_first_access(seeded_settings):
    result = rows(seeded_settings, "first_access", days=2)
    assert pick(result, "user_id", "computer_id", "first_day", "events_in_window", "active_days", "host_users_lookback") == [
        ("U3", "C3", date(2024, 1, 4), 8, 2, 1),
        ("U1", "C9", D5, 3, 1, 1),
    ]
    assert result[1]["first_seen"] == ts(D5, 2, 5) and result[1]["host_rarity"] == 0.693
    assert pick(rows(seeded_settings, "first_access", user="U2", days=3), "computer_id", "first_day") == [("C1", date(2024, 1, 3))]
    assert rows(seeded_settings, "first_access", user="U2", days=2) == []
    # A window in the past only sees what was new then.
    assert pick(rows(seeded_settings, "first_access", day="2024-01-03", days=1), "user_id", "computer_id") == [("U2", "C1")]


def test_rare_host_access(seeded_settings):
    result = rows(seeded_settings, "rare_host_access")
    assert pick(result, "user_id", "computer_id", "host_users_lookback") == [
        ("U1", "C9", 1), ("U2", "C2", 1), ("U3", "C3", 1), ("U1", "C1", 2),
    ]
    assert result[0]["rarity"] == 0.693 and result[-1]["rarity"] == 0.288
    assert pick(rows(seeded_settings, "rare_host_access", max_users=1, user="U1"), "computer_id", "events") == [("C9", 3)]
    three_days = rows(seeded_settings, "rare_host_access", days=3, max_users=1, user="U2")
    # C2 was rarer on days 4 and 5 (three active users) than on day 3 (two): rarest first.
    assert pick(three_days, "event_date", "rarity") == [(date(2024, 1, 4), 0.693), (D5, 0.693), (date(2024, 1, 3), 0.405)]


def test_alert_drilldown(seeded_settings):
    result = rows(seeded_settings, "alert_drilldown", alert_id="al-u1-d5")
    assert pick(result, "event_id", "event_score", "auth_type", "success", "computer_id") == [
        ("e1", 90, "NTLM", True, "C9"),
        ("e2", 60, "Kerberos", False, "C9"),
    ]
    assert {(r["alert_id"], r["severity"], r["alert_score"], r["alert_reasons"], r["user_id"]) for r in result} == {
        ("al-u1-d5", "critical", 92.5, "new_host, rare_host", "U1")
    }
    assert result[1]["event_reasons"] == "new_host, off_hours"
    assert rows(seeded_settings, "alert_drilldown", alert_id="no-such-alert") == []


def test_recent_alerts(seeded_settings):
    assert pick(rows(seeded_settings, "recent_alerts"), "alert_id", "high_risk_events") == [
        ("al-u1-d5", 2), ("al-u2-d5", 1), ("al-u2-d3", 1),
    ]
    assert pick(rows(seeded_settings, "recent_alerts", min_severity="high"), "alert_id") == [("al-u1-d5",), ("al-u2-d5",)]
    assert pick(rows(seeded_settings, "recent_alerts", min_severity="critical"), "severity") == [("critical",)]
    assert pick(rows(seeded_settings, "recent_alerts", day="2024-01-04", days=2), "alert_id") == [("al-u2-d3",)]


def test_host_users(seeded_settings):
    assert pick(rows(seeded_settings, "host_users", computer="C1"), "user_id", "active_days", "events") == [
        ("U1", 5, 50), ("U2", 1, 1),
    ]
    assert pick(rows(seeded_settings, "host_users", computer="C1", days=2), "user_id", "events") == [("U1", 20)]


def test_missing_table_says_what_to_run(settings):
    with pytest.raises(ConfigError) as err:
        run_local(settings, "top_risky_users", {})
    assert str(err.value) == (
        "table authpulse.user_risk_daily does not exist yet; run `authpulse run` or `make demo` first"
    )


def test_empty_tables_give_no_rows_but_the_columns(settings, catalog):
    write_rows(settings, USER_RISK_DAILY, [])
    write_rows(settings, ALERTS, [])
    result = run_local(settings, "top_risky_users", {})
    assert result.num_rows == 0
    assert result.column_names[:3] == ["user_id", "event_date", "risk_score"]


def test_tables_are_lazy_arrow_datasets_and_added_columns_read_as_null(settings, catalog):
    write_rows(catalog, ALERTS, ALERT_ROWS)
    table = catalog.load_table(ALERTS.identifier)
    source = arrow_source(table)
    assert isinstance(source, ds.Dataset) and len(source.files) == 2  # one file per day written
    with table.update_schema() as update:
        update.add_column("triage_note", StringType(), doc="added after the data was written")
    con = connect()
    register_tables(con, catalog, ("alerts",))
    got = run_sql(con, "SELECT alert_id, triage_note FROM authpulse.alerts WHERE event_date = DATE '2024-01-05' ORDER BY 1")
    assert got.to_pylist() == [{"alert_id": "al-u1-d5", "triage_note": None}, {"alert_id": "al-u2-d5", "triage_note": None}]


def test_trino_functions_behave_like_trino():
    con = connect()
    assert run_sql(con, "SELECT date_add('day', -6, DATE '2024-01-05') AS d").to_pylist() == [{"d": date(2023, 12, 30)}]
    assert run_sql(con, "SELECT date_add('DAY', 1 - 1, DATE '2024-01-05') AS d").to_pylist() == [{"d": D5}]
    assert run_sql(con, "SELECT array_join(['a', NULL, 'b'], ', ') AS s").to_pylist() == [{"s": "a, b"}]
    with pytest.raises(Exception, match="only the day unit"):
        run_sql(con, "SELECT date_add('hour', 1, DATE '2024-01-05')")
