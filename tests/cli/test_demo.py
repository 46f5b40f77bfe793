"""`authpulse demo` end to end, as a user runs it: a subprocess, a fresh data home, the local stack."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from authpulse_dagster.local_stack import find_free_port


def _authpulse(args, home: Path, timeout=600):
    env = {**os.environ, "AUTHPULSE_HOME": str(home), "AUTHPULSE_MOTO_PORT": str(find_free_port()),
           "PYSPARK_PYTHON": sys.executable}
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("DAGSTER_HOME", None)
    return subprocess.run([sys.executable, "-c", "from authpulse_dagster.cli import main; main()", *args],
                          env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_demo_on_generated_data(tmp_path):
    home = tmp_path / "home"
    try:
        out = _authpulse(
            ["demo", "--users", "60", "--computers", "120", "--days", "12", "--events-per-user-day", "30"], home
        )
        assert out.returncode == 0, out.stderr[-3000:]
        text = out.stdout
        # Twelve days of history (with attacks) through Dagster, then one more day live through Kinesis.
        assert "injected labelled attacks" in text
        assert "rows per table:" in text and "top 10 users by distinct computers on 2024-01-13" in text
        assert "succeeded" in text
        assert "streaming job drained the stream" in text and "(0 failed," in text
        assert re.search(r"auth_events\s+\+[1-9][0-9,]*", text), text
        assert (home / "dagster" / "dagster.yaml").exists()
        # It ends with the riskiest users and their reasons, and what reached SNS.
        risky = text.split("top 10 risky users")[1].splitlines()[2]
        assert re.match(r"\s+U\d+\s+2024-01-\d\d\s+\d+\.\d\s+\d+\s+[a-z_]+", risky), risky
        delivered = re.search(r"alerts: (\d+) .*delivered through SNS: (\d+) message", text)
        assert delivered and int(delivered.group(1)) > 0 and int(delivered.group(2)) > 0, text[-2000:]
        assert (home / "dashboard" / "index.html").stat().st_size > 100_000
        assert "target: recall" in text
        assert "stop it with `authpulse local down`" in text  # the stack outlives the demo, and it says so
    finally:
        _authpulse(["local", "down"], home, timeout=60)


@pytest.mark.slow
def test_demo_on_a_given_lanl2015_file(tmp_path):
    home = tmp_path / "home"
    src = tmp_path / "auth.txt"
    src.write_text(
        "1,C625$@DOM1,U147@DOM1,C625,C625,Negotiate,Batch,LogOn,Success\n"
        "2,U620@DOM1,U620@DOM1,C17693,C1003,Kerberos,Network,LogOn,Success\n"
        "3,U620@DOM1,U620@DOM1,C17693,C1003,Kerberos,Network,LogOn,Unknown\n"
    )
    try:
        out = _authpulse(["demo", "--input", str(src), "--format", "lanl2015"], home)
        assert out.returncode == 0, out.stderr[-3000:]
        assert "unknown_success_value" in out.stdout
        assert "auth_events" in out.stdout
    finally:
        _authpulse(["local", "down"], home, timeout=60)


def test_demo_with_a_missing_input_says_so_in_one_line(tmp_path):
    home = tmp_path / "home"
    try:
        out = _authpulse(["demo", "--input", str(tmp_path / "nope.txt")], home, timeout=120)
        assert out.returncode == 3
        assert out.stderr.strip().splitlines()[-1].startswith("authpulse: error: input file not found")
    finally:
        _authpulse(["local", "down"], home, timeout=60)
