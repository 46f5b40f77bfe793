"""``evaluate`` and ``authpulse evaluate`` against small real Iceberg tables with hand-computed answers.

The data (epoch 2024-01-01, days 1-5 of January, users U1..U10):

* labels: U1 lateral_movement on Jan 3; U2 slow_spread Jan 3-4; U3 dormant_wakeup Jan 5;
* alerts: U1 Jan 3 (detected, delay 0), U2 Jan 5 (last labelled day + 1: detected, delay 2),
  U9 Jan 2 and Jan 4 (false positives); U3 has none (missed);
* user_risk_daily: 0 for every user-day except U1/3: 90, U2/3: 40, U2/4: 70, U3/5: 30,
  U9/2: 80, U9/4: 75, U4/5: 30.
"""

import json
from datetime import date, datetime, timezone

import pyarrow as pa
import pytest
from click.testing import CliRunner
from pyiceberg.types import BooleanType, DateType, DoubleType, IntegerType, ListType, LongType, StringType, TimestamptzType

from authpulse_dagster.cli import evaluate as evaluate_cli
from authpulse_dagster.errors import InputError
from authpulse_dagster.evaluation import evaluate, render_table
from authpulse_dagster.lakehouse.schemas import ALERTS, AUTH_EVENTS, USER_RISK_DAILY, TableDef
from tests.fixtures.lakehouse import write_rows

DAYS = [date(2024, 1, d) for d in range(1, 6)]
USERS = [f"U{i}" for i in range(1, 11)]
SCORES = {
    ("U1", 3): 90.0, ("U2", 3): 40.0, ("U2", 4): 70.0, ("U3", 5): 30.0,
    ("U9", 2): 80.0, ("U9", 4): 75.0, ("U4", 5): 30.0,
}  # fmt: skip
ALERTED = [("U1", 3), ("U2", 5), ("U9", 2), ("U9", 4)]
LABELS = [
    (2 * 86400 + 36000, "U1", "C1", "C50"),
    (2 * 86400 + 36060, "U1", "C1", "C51"),
    (2 * 86400 + 70000, "U2", "C2", "C60"),
    (3 * 86400 + 70000, "U2", "C2", "C61"),
    (4 * 86400 + 7200, "U3", "C3", "C3"),
]
SIDECAR = {
    "version": 1,
    "victims": {  # generation order, which the report keeps (not the order of the labels' times)
        "U3": {"scenario": "dormant_wakeup", "days": [4]},
        "U1": {"scenario": "lateral_movement", "days": [2]},
        "U2": {"scenario": "slow_spread", "days": [2, 3]},
    },
    "scenarios": {
        "lateral_movement": {"params": {"targets": 2}, "victims": ["U1"]},
        "slow_spread": {"params": {}, "victims": ["U2"]},
        "dormant_wakeup": {"params": {}, "victims": ["U3"]},
    },
}
TS = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _default(field_type, row):
    if isinstance(field_type, StringType):
        return "x"
    if isinstance(field_type, (LongType, IntegerType)):
        return 0
    if isinstance(field_type, DoubleType):
        return 0.0
    if isinstance(field_type, BooleanType):
        return True
    if isinstance(field_type, TimestamptzType):
        return TS
    if isinstance(field_type, ListType):
        return []
    if isinstance(field_type, DateType):
        return row["event_date"]
    raise AssertionError(f"no default for {field_type}")


def _append(settings, table_def: TableDef, rows: list[dict]) -> None:
    full = [{f.name: row.get(f.name, _default(f.field_type, row)) for f in table_def.schema.fields} for row in rows]
    write_rows(settings, table_def, full, append=True)


@pytest.fixture
def warehouse(settings, catalog):
    _append(
        settings,
        AUTH_EVENTS,
        [{"event_id": f"{u}-{d}", "user_id": u, "computer_id": "C1", "event_date": d} for u in USERS for d in DAYS],
    )
    _append(
        settings,
        USER_RISK_DAILY,
        [
            {"user_id": u, "event_date": d, "risk_score": SCORES.get((u, d.day), 0.0)}
            for u in USERS
            for d in DAYS
        ],
    )
    _append(
        settings,
        ALERTS,
        [{"alert_id": f"a-{u}-{d}", "user_id": u, "event_date": date(2024, 1, d), "score": 70.0} for u, d in ALERTED],
    )
    return catalog


@pytest.fixture
def labels(tmp_path):
    path = tmp_path / "redteam.txt"
    path.write_text("".join(f"{t},{u}@DOM1,{s},{d}\n" for t, u, s, d in LABELS))
    (tmp_path / "redteam.scenarios.json").write_text(json.dumps(SIDECAR))
    return path


def test_overall_numbers(settings, warehouse, labels):
    report = evaluate(settings, labels)
    assert (report.first_day, report.last_day, report.days, report.users) == (DAYS[0], DAYS[-1], 5, 10)
    assert report.alerts == 4 and report.label_events == 5
    o = report.overall
    assert (o.attacked_users, o.detected_users, o.alerted_users) == (3, 2, 3)
    assert o.recall == pytest.approx(2 / 3)
    assert o.precision == pytest.approx(2 / 3)  # U1, U2 of U1, U2, U9
    assert o.alerts_per_day_per_1k == pytest.approx(4 / 5 / 10 * 1000)
    assert o.mean_delay_days == pytest.approx(1.0)  # (0 + 2) / 2
    assert o.positive_user_days == 4
    # Ranked: 90 P, 80 N, 75 N, 70 P, 40 P, 30 (P, N tied): (1 + 1/2 + 3/5 + 4/7) / 4.
    assert o.pr_auc == pytest.approx((1 + 0.5 + 0.6 + 4 / 7) / 4)
    assert report.missed == (("U3", "dormant_wakeup"),)
    assert not report.passed


def test_per_scenario_rows(settings, warehouse, labels):
    rows = {r.scenario: r for r in evaluate(settings, labels).scenarios}
    assert set(rows) == {"lateral_movement", "slow_spread", "dormant_wakeup"}
    lm, ss, dw = rows["lateral_movement"], rows["slow_spread"], rows["dormant_wakeup"]
    assert (lm.attacked_users, lm.detected_users, lm.recall, lm.mean_delay_days, lm.pr_auc) == (1, 1, 1.0, 0.0, 1.0)
    assert (ss.detected_users, ss.mean_delay_days, ss.positive_user_days) == (1, 2.0, 2)
    # Other scenarios' positive days are not negatives: 80 N, 75 N, 70 P, 40 P -> 1/2 * 1/3 + 1/2 * 2/4.
    assert ss.pr_auc == pytest.approx(0.5 / 3 + 0.25)
    # 80 N, 75 N, then U3's 30 tied with U4's 30: precision 1/4 at recall 1.
    assert (dw.recall, dw.mean_delay_days, dw.pr_auc) == (0.0, None, pytest.approx(0.25))
    # Precision and volume are whole-stream properties: only on the overall row.
    assert all(r.precision is None and r.alerts_per_day_per_1k is None for r in rows.values())


def test_window_restricts_days_alerts_and_labels(settings, warehouse, labels):
    report = evaluate(settings, labels, start=date(2024, 1, 4), end=date(2024, 1, 5))
    assert (report.days, report.alerts, report.label_events) == (2, 2, 2)  # alerts U2/5, U9/4; labels U2/4, U3/5
    assert report.overall.attacked_users == 2  # U1's attack lies before the window
    assert report.overall.alerts_per_day_per_1k == pytest.approx(2 / 2 / 10 * 1000)


def test_passes_when_targets_are_met(settings, warehouse, labels):
    from authpulse_dagster.evaluation import Target

    report = evaluate(settings, labels, target=Target(min_recall=0.6, max_alerts_per_day_per_1k=100))
    assert report.passed
    assert "PASS" in render_table(report)


def test_without_sidecar_only_overall(settings, warehouse, labels):
    labels.with_name("redteam.scenarios.json").unlink()
    report = evaluate(settings, labels)
    assert report.scenarios == ()
    assert report.overall.recall == pytest.approx(2 / 3)
    assert report.missed == (("U3", "unknown"),)


def test_missing_tables_and_labels_are_input_errors(settings, catalog, labels, tmp_path):
    with pytest.raises(InputError, match="auth_events does not exist"):
        evaluate(settings, labels)
    with pytest.raises(InputError, match="not found"):
        evaluate(settings, tmp_path / "nope.txt")


def test_malformed_label_line(settings, warehouse, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1,U1@DOM1,C1,C2\n2,U1,C1,C2\n")
    with pytest.raises(InputError, match=r"bad.txt:2"):
        evaluate(settings, bad)


def test_cli_prints_the_table(settings, warehouse, labels):
    result = CliRunner().invoke(evaluate_cli.evaluate, ["--labels", str(labels)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("evaluated 10 users over 5 days (2024-01-01..2024-01-05): 4 alerts, 3 attacked users")
    header = lines[1].split()
    assert header == ["scenario", "attacked", "detected", "recall", "delay_d", "alerted", "precision", "alerts/day/1k", "PR-AUC"]
    rows = {line.split()[0]: line.split() for line in lines[2:6]}
    assert rows["lateral_movement"] == ["lateral_movement", "1", "1", "1.000", "0.0", "-", "-", "-", "1.000"]
    assert rows["dormant_wakeup"] == ["dormant_wakeup", "1", "0", "0.000", "-", "-", "-", "-", "0.250"]
    assert rows["overall"] == ["overall", "3", "2", "0.667", "1.0", "3", "0.667", "80.00", "0.668"]
    assert "target: recall >= 0.90 with <= 5 alerts/day/1k users (got 0.667, 80.00): FAIL" in result.output
    assert "missed: U3 (dormant_wakeup)" in result.output


def test_cli_json_and_strict(settings, warehouse, labels):
    result = CliRunner().invoke(evaluate_cli.evaluate, ["--labels", str(labels), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["passed"] is False and data["overall"]["detected_users"] == 2
    assert [r["scenario"] for r in data["scenarios"]] == ["dormant_wakeup", "lateral_movement", "slow_spread"]  # sidecar order
    assert CliRunner().invoke(evaluate_cli.evaluate, ["--labels", str(labels), "--strict"]).exit_code == 1
    relaxed = ["--labels", str(labels), "--strict", "--min-recall", "0.5", "--max-alerts", "100"]
    assert CliRunner().invoke(evaluate_cli.evaluate, relaxed).exit_code == 0


def test_registered_in_the_authpulse_command(settings, warehouse, labels, capsys):
    from authpulse_dagster.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--labels", str(labels), "--from", "2024-01-03"])
    assert exit_info.value.code == 0
    assert "over 3 days (2024-01-03..2024-01-05)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--labels", str(labels.with_name("missing.txt"))])
    assert exit_info.value.code == 3
    assert "authpulse: error: input file not found" in capsys.readouterr().err


def test_reads_what_the_generator_writes(settings, catalog, tmp_path):
    """Generator labels + sidecar feed evaluate directly: a detector alerting each victim on its first attack day is perfect."""
    from datetime import timedelta

    from authpulse_dagster.lanl.generator import generate
    from authpulse_dagster.lanl.scenarios import Difficulty

    out = tmp_path / "auth.txt"
    stats = generate(
        out, users=200, computers=400, days=12, seed=5, events_per_user_day=10.0, progress=False, fmt="lanl2015",
        attacks=Difficulty(victims=2).scenarios("all", "lanl2015"),
    )  # fmt: skip
    epoch = date(2024, 1, 1)
    user_days = {(line.split(b",")[1].split(b"@")[0].decode(), int(line.split(b",")[0]) // 86400) for line in out.read_bytes().splitlines()}
    _append(settings, AUTH_EVENTS, [{"user_id": u, "event_date": epoch + timedelta(days=d)} for u, d in sorted(user_days)])
    side = json.loads(stats.sidecar_path.read_text())["victims"]
    attacked = {(u, d) for u, v in side.items() for d in v["days"]}
    _append(
        settings,
        USER_RISK_DAILY,
        [{"user_id": u, "event_date": epoch + timedelta(days=d), "risk_score": 90.0 if (u, d) in attacked else 5.0} for u, d in sorted(user_days)],
    )
    _append(settings, ALERTS, [{"user_id": u, "event_date": epoch + timedelta(days=v["days"][0])} for u, v in side.items()])
    report = evaluate(settings, stats.labels_path)
    assert report.users == 200 and report.days == 12 and report.label_events == stats.attack_events
    o = report.overall
    assert (o.attacked_users, o.detected_users, o.recall, o.precision, o.pr_auc) == (10, 10, 1.0, 1.0, 1.0)
    assert o.positive_user_days == len(attacked)  # labelled user-days are exactly the scheduled attack days
    assert [r.scenario for r in report.scenarios] == ["lateral_movement", "rare_source", "dormant_wakeup", "slow_spread", "failed_logon_burst"]
    assert all(r.recall == 1.0 and r.mean_delay_days == 0.0 for r in report.scenarios)
    assert o.alerts_per_day_per_1k == pytest.approx(10 / 12 / 200 * 1000)
    assert report.passed  # 4.2 alerts/day/1k users, all caught


def test_a_host_alert_detects_the_users_it_names(settings, warehouse, labels):
    # A host alert on Jan 5 naming U3 (missed so far) and U5 (not attacked): U3 is caught, U5 counts as alerted.
    _append(settings, ALERTS, [{"alert_id": "h-1", "user_id": "U3", "event_date": date(2024, 1, 5), "score": 80.0,
                                "entity_type": "host", "entity_id": "C7", "related_users": ["U3", "U5"]}])
    report = evaluate(settings, labels)
    o = report.overall
    assert (o.detected_users, o.alerted_users, report.alerts) == (3, 5, 5)
    assert o.precision == pytest.approx(3 / 5) and report.missed == ()
    entities = {e.entity_type: e for e in report.entities}
    assert (entities["host"].alerts, entities["host"].true_alerts, entities["host"].named_users, entities["host"].detected_users) == (1, 1, 2, 1)
    assert (entities["user"].alerts, entities["user"].true_alerts, entities["user"].detected_users) == (4, 2, 2)
    assert entities["user"].precision == pytest.approx(0.5)
    assert "host alerts: 1 (1 naming an attacked user in time, precision 1.000)" in render_table(report)


def test_rows_by_scenario_and_intensity(settings, warehouse, labels):
    from authpulse_dagster.evaluation.evaluate import by_scenario_and_intensity

    side = json.loads(labels.with_name("redteam.scenarios.json").read_text())
    side["victims"]["U1"]["params"] = {"intensity": 0.5}
    side["scenarios"]["slow_spread"]["params"] = {"intensity": 2.0}
    labels.with_name("redteam.scenarios.json").write_text(json.dumps(side))
    rows = {r.scenario: r for r in evaluate(settings, labels, group=by_scenario_and_intensity).scenarios}
    # Per-victim params win over the scenario's; without an intensity the row is the scenario alone.
    assert set(rows) == {"lateral_movement@0.5", "slow_spread@2", "dormant_wakeup"}
