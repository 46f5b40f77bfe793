"""``authpulse query`` end to end through the real entry point, on the seeded lakehouse."""

from __future__ import annotations

import csv
import io
import json

import pytest

from authpulse_dagster.cli import main
from authpulse_dagster.queries import list_queries


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


@pytest.fixture
def seeded_home(seeded_settings, monkeypatch):
    monkeypatch.setenv("AUTHPULSE_HOME", str(seeded_settings.home))
    monkeypatch.setenv("AUTHPULSE_ENV", "local")
    return seeded_settings.home


def test_list_names_every_query_and_its_params(capsys):
    code, out, _ = run(["query", "--list"], capsys)
    assert code == 0
    for spec in list_queries():
        assert f"\n{spec.name}\n" in f"\n{out}"
        for p in spec.params:
            assert f"--param {p.name}=<{p.type_label}>" in out
    code, out, _ = run(["query", "--list", "user_timeline"], capsys)
    assert code == 0 and out.startswith("user_timeline\n") and "top_risky_users\n" not in out


def test_table_output_is_aligned(seeded_home, capsys):
    code, out, err = run(["query", "top_risky_users", "--param", "day=2024-01-05", "-p", "top=2"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == [
        "user_id", "event_date", "risk_score", "day_score", "max_event_score", "high_risk_events", "events",
        "top_reasons", "alert_severity", "alert_id", "triage_status",
    ]
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split()[:3] == ["U1", "2024-01-05", "92.5"] and lines[2].endswith("critical        al-u1-d5  open")
    assert lines[3].split()[:3] == ["U2", "2024-01-05", "60.3"]
    assert lines[-1] == "(2 rows)"
    # Columns line up: every value starts under its header (left-aligned text) or ends under it (numbers).
    assert lines[2].index("U1") == lines[0].index("user_id")
    assert lines[2].index("92.5") + len("92.5") == lines[0].index("risk_score") + len("risk_score")
    assert lines[2].index("new_host, off_hours") == lines[0].index("top_reasons")


def test_csv_and_json(seeded_home, capsys):
    code, out, _ = run(["query", "user_timeline", "-p", "user=U1", "-p", "min_score=50", "--format", "csv"], capsys)
    assert code == 0
    records = list(csv.DictReader(io.StringIO(out)))
    assert [(r["event_id"], r["score"], r["reasons"]) for r in records] == [
        ("e1", "90", "new_host, rare_host, off_hours"), ("e2", "60", "new_host, off_hours"),
    ]
    assert records[0]["event_ts"] == "2024-01-05 02:05:00Z"
    code, out, _ = run(["query", "alert_drilldown", "-p", "alert_id=al-u1-d5", "--format", "json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert [(d["event_id"], d["success"], d["event_score"]) for d in data] == [("e1", True, 90), ("e2", False, 60)]


def test_limit_cuts_and_says_so(seeded_home, capsys):
    code, out, err = run(["query", "recent_alerts", "--limit", "1"], capsys)
    assert code == 0
    assert out.splitlines()[-1] == "(1 row)" and "al-u1-d5" in out and "al-u2-d5" not in out
    assert "showing the first 1 of 3 rows" in err
    code, out, err = run(["query", "recent_alerts", "--limit", "0"], capsys)
    assert out.splitlines()[-1] == "(3 rows)" and err == ""


def test_show_sql_prints_the_rendered_statement(capsys):
    code, out, _ = run(["query", "rare_host_access", "--show-sql", "-p", "day=2024-01-05", "-p", "max_users=3"], capsys)
    assert code == 0
    assert "BETWEEN date_add('day', 1 - 1, DATE '2024-01-05') AND DATE '2024-01-05'" in out
    assert "p.distinct_users_lookback <= 3" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["query"], "name a query to run, or use `authpulse query --list` to see them"),
        (["query", "nope"], "unknown query 'nope'; known queries: "),
        (["query", "top_risky_users", "-p", "top=many"], "--param top='many' is not a whole number"),
        (["query", "top_risky_users", "-p", "top"], "--param expects KEY=VALUE, got 'top'"),
        (["query", "top_risky_users", "-p", "top=1", "-p", "top=2"], "--param top is given twice"),
        (["query", "alert_drilldown"], "query alert_drilldown needs --param alert_id=<string>"),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(argv, message, seeded_home, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2
    assert err.startswith("authpulse: error: ") and message in err
    assert err.count("\n") == 1 and out == ""


def test_missing_tables_point_at_the_pipeline(settings, capsys):
    code, _, err = run(["query", "rare_host_access"], capsys)
    assert code == 2
    assert err == "authpulse: error: table authpulse.user_host_daily does not exist yet; run `authpulse run` or `make demo` first\n"
