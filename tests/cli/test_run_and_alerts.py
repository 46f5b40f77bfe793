"""`authpulse run` (headless batch over a file) and `authpulse alerts tail`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from authpulse_dagster import notify
from authpulse_dagster.cli.alerts import alerts
from tests.cli.test_demo import _authpulse


@pytest.mark.slow
def test_run_materializes_every_day_of_a_file_and_reports_risk(tmp_path):
    home = tmp_path / "home"
    src = tmp_path / "auth.txt"
    src.write_text(
        "1,U1@DOM1,U1@DOM1,C1,C2,Kerberos,Network,LogOn,Success\n"
        "90000,U2@DOM1,U2@DOM1,C3,C3,Kerberos,Interactive,LogOn,Success\n"
    )
    try:
        out = _authpulse(["run", "--input", str(src), "--format", "lanl2015"], home)
        assert out.returncode == 0, out.stderr[-3000:]
        assert "2024-01-01 .. 2024-01-02" in out.stdout
        assert "top 10 risky users" in out.stdout and "alerts: 0" in out.stdout
        assert (home / "dashboard" / "index.html").exists()
    finally:
        _authpulse(["local", "down"], home, timeout=60)


def test_alerts_tail_prints_what_reaches_the_queue(aws_resources, aws_env):
    notify.publish(aws_env, "risk_alert", "s", {
        "alert_id": "a1", "user_id": "U7", "event_date": "2024-01-09", "severity": "high", "score": 88.0,
        "reasons": ["fan_out_spike"], "event_count": 12, "path": "batch", "escalated_from": None,
    }, {"severity": "high", "user": "U7"})
    result = CliRunner().invoke(alerts, ["tail", "--seconds", "3", "--json"])
    assert result.exit_code == 0, result.output
    (line,) = result.output.strip().splitlines()
    msg = json.loads(line)
    assert msg["user_id"] == "U7" and msg["attributes"] == {"kind": "risk_alert", "severity": "high", "user": "U7"}
    human = CliRunner().invoke(alerts, ["tail", "--seconds", "1"])
    assert human.exit_code == 0 and human.output == ""  # consumed by the first tail
