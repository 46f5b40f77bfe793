"""Query files, their headers and the renderer: typed, validated parameters and one-line errors."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lakehouse.schemas import TABLES
from authpulse_dagster.queries import list_queries, load, render
from authpulse_dagster.queries.spec import PLACEHOLDER, parse

REQUIRED_QUERIES = {"top_risky_users", "user_timeline", "first_access", "rare_host_access", "alert_drilldown"}
ROOT = Path(__file__).resolve().parents[2]

# Functions the queries may call: each exists in Trino (Athena engine v3) and in
# DuckDB, natively or through the macros in duckdb_runner.TRINO_MACROS.
PORTABLE_FUNCTIONS = {"round", "array_join", "date_add", "min", "max", "sum", "count", "cardinality", "unnest", "lower"}


def test_every_required_query_exists_and_is_described():
    specs = {q.name: q for q in list_queries()}
    assert REQUIRED_QUERIES <= set(specs)
    for spec in specs.values():
        assert spec.summary and spec.summary.endswith("."), spec.name
        assert all(p.description for p in spec.params), spec.name
        assert set(spec.tables) <= set(TABLES) | {"alert_triage"}, spec.name  # alert_triage: the SOC API's export
        assert load(spec.name) is spec


def test_queries_use_only_portable_sql():
    for spec in list_queries():
        body = re.sub(r"'[^']*'", "''", spec.sql)  # ignore string literals
        calls = set(re.findall(r"\b([A-Za-z_]+)\(", body))
        assert {c.lower() for c in calls} <= PORTABLE_FUNCTIONS, (spec.name, calls)
        assert "::" not in body and '"' not in body and ";" not in body, spec.name
        assert not re.search(r"\b(GROUP BY ALL|ORDER BY ALL|ILIKE|QUALIFY|EXCLUDE|list_\w+|strftime)\b", body, re.I), spec.name
        assert re.findall(r"\bFROM\s+(\w+)\.", body) == ["authpulse"] * len(re.findall(r"\bFROM\s+(\w+)\.", body))


def test_sql_files_are_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["authpulse_dagster.queries"]
    assert "*.sql" in patterns


def test_render_substitutes_typed_literals():
    sql = render("top_risky_users", {"day": "2024-01-05", "top": "5"})
    assert "r.event_date = DATE '2024-01-05'" in sql
    assert sql.rstrip().endswith("LIMIT 5")
    assert not PLACEHOLDER.search(sql)


def test_defaults_and_latest():
    sql = render("top_risky_users", {})
    assert "r.event_date = (SELECT max(event_date) FROM authpulse.user_risk_daily)" in sql
    assert sql.rstrip().endswith("LIMIT 20")
    assert render("top_risky_users", {"day": "latest"}) == sql
    assert "('' = '' OR user_id = '')" in render("first_access", {})
    assert "date_add('day', 1 - 3, DATE '2024-01-05')" in render("first_access", {"day": "2024-01-05", "days": "3"})


def test_strings_are_quoted_not_pasted():
    sql = render("user_timeline", {"user": "O'Brien' OR '1'='1"})
    assert "s.user_id = 'O''Brien'' OR ''1''=''1'" in sql
    sql = render("alert_drilldown", {"alert_id": "x'; DROP TABLE authpulse.alerts; --"})
    assert "WHERE alert_id = 'x''; DROP TABLE authpulse.alerts; --'" in sql


def test_choice_is_normalised_and_checked():
    assert "CASE 'high' WHEN" in render("recent_alerts", {"min_severity": "HIGH"})


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("no_such_query", {}, "unknown query 'no_such_query'; known queries: alert_drilldown, "),
        ("../etc/passwd", {}, "unknown query '../etc/passwd'"),
        ("top_risky_users", {"colour": "red"}, "query top_risky_users has no parameter 'colour'; its parameters: day, top"),
        ("user_timeline", {}, "query user_timeline needs --param user=<string>"),
        ("top_risky_users", {"day": "2024-13-01"}, "--param day='2024-13-01' is not a valid calendar date"),
        ("top_risky_users", {"day": "2024-1-5"}, "--param day='2024-1-5' is not a date (YYYY-MM-DD or latest)"),
        ("top_risky_users", {"day": "2024-01-05' OR 1=1"}, "is not a date"),
        ("top_risky_users", {"top": "5; DROP TABLE x"}, "--param top='5; DROP TABLE x' is not a whole number"),
        ("top_risky_users", {"top": "0"}, "--param top='0' is not within 1..1000"),
        ("top_risky_users", {"top": "1001"}, "is not within 1..1000"),
        ("top_risky_users", {"top": "2.5"}, "is not a whole number"),
        ("recent_alerts", {"min_severity": "low"}, "is not one of medium, high, critical"),
        ("user_timeline", {"user": "U1\nDROP"}, "is not text without control characters"),
        ("user_timeline", {"user": "U" * 300}, "is not at most 256 characters"),
        ("host_users", {"computer": "C1", "day": "latest"}, None),
    ],
)
def test_bad_input_is_one_clear_config_error(name, params, message):
    if message is None:
        assert "FROM authpulse.user_host_daily)" in render(name, params)
        return
    with pytest.raises(ConfigError) as err:
        render(name, params)
    text = str(err.value)
    assert message in text
    assert "\n" not in text


def test_latest_only_where_declared():
    with pytest.raises(ConfigError, match="is not a date"):
        parse("q", "-- A query.\n-- @param d date = 2024-01-01  A day\nSELECT {{d}}").params[0].render("q", "latest")


def test_numbers_render_safely():
    spec = parse("q", "-- A query.\n-- @param n int  N\n-- @param x float[,10]  X\nSELECT 1 - {{n}}, {{x}}")
    n, x = spec.params
    assert n.render("q", "-3") == "(-3)" and n.render("q", "+4") == "4"
    assert x.render("q", "0.5") == "0.5e0" and x.render("q", "-2") == "(-2e0)"
    for bad, why in (("nan", "finite"), ("11", "within ..10"), ("1e400", "finite"), ("x", "a number")):
        with pytest.raises(ConfigError, match=re.escape(why)):
            x.render("q", bad)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("SELECT 1", "must start with a description"),
        ("-- A query.\nSELECT {{x}}", "placeholders ['x'] are not declared"),
        ("-- A query.\n-- @param x int  X\nSELECT 1", "declared but never used"),
        ("-- A query.\n-- @param x blob  X\nSELECT {{x}}", "unknown type 'blob'"),
        ("-- A query.\n-- @param x date = latest(nope)  X\nSELECT {{x}}", "latest(nope) names no AuthPulse table"),
        ("-- A query.\n-- @param x int[1,5] = 9  X\nSELECT {{x}}", "is not within 1..5"),
        ("-- A query.\nSELECT * FROM authpulse.nope", "reads unknown tables ['nope']"),
        ("-- A query.\n-- @param x choice[]  X\nSELECT {{x}}", "lists no choices"),
    ],
)
def test_malformed_query_files_are_rejected(text, problem):
    with pytest.raises((ValueError, ConfigError), match=re.escape(problem)):
        parse("q", text)


def test_header_is_not_part_of_the_sql():
    spec = parse("q", "-- First line\n-- goes on.\n--\n-- More detail.\n-- @param d date = 2024-01-01  A day\n\nSELECT {{d}};\n")
    assert spec.summary == "First line goes on."
    assert spec.description == "First line\ngoes on.\n\nMore detail."
    assert spec.sql == "SELECT {{d}}"
