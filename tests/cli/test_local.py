"""``authpulse local``: the group through CliRunner, the error path as a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from authpulse_dagster import local_stack
from authpulse_dagster.cli.local import local
from authpulse_dagster.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path, port: int) -> dict[str, str]:
    return {"AUTHPULSE_HOME": str(home), "AUTHPULSE_MOTO_PORT": str(port), "AUTHPULSE_ENV": "local"}


def _fields(output: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)


def test_up_status_env_down(tmp_path: Path) -> None:
    runner = CliRunner()
    home, port = tmp_path / "home", local_stack.find_free_port()
    env = _env(home, port)
    try:
        result = runner.invoke(local, ["up"], env=env)
        assert result.exit_code == 0, result.output
        assert _fields(result.output)["endpoint"] == f"http://127.0.0.1:{port}"

        result = runner.invoke(local, ["status"], env=env)
        assert result.exit_code == 0, result.output
        fields = _fields(result.output)
        assert fields["endpoint"] == f"http://127.0.0.1:{port}"
        assert int(fields["pid"]) == int((home / "run" / "moto.pid").read_text())
        assert fields["catalog"] == f"sqlite:///{home.resolve() / 'catalog.db'}"
        assert fields["warehouse"] == str(home.resolve() / "warehouse")

        result = runner.invoke(local, ["env"], env={**env, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""})
        assert result.exit_code == 0, result.output
        # The output must survive a real shell's eval.
        shell = subprocess.run(
            ["bash", "-c", 'eval "$EXPORTS"; echo "$AWS_ENDPOINT_URL|$AWS_ACCESS_KEY_ID|$DAGSTER_HOME|$AUTHPULSE_HOME"'],
            env={"PATH": os.environ.get("PATH", ""), "EXPORTS": result.output},
            capture_output=True,
            text=True,
            check=True,
        )
        resolved = home.resolve()
        assert shell.stdout.strip() == f"http://127.0.0.1:{port}|testing|{resolved / 'dagster'}|{resolved}"

        result = runner.invoke(local, ["down"], env=env)
        assert result.exit_code == 0 and result.output.strip() == "stopped"

        result = runner.invoke(local, ["status"], env=env)
        assert result.exit_code == 1
        assert result.output.startswith("not running")
        assert runner.invoke(local, ["down"], env=env).output.strip() == "not running"
    finally:
        local_stack.down(Settings.from_env(env))


def test_env_before_up_keeps_user_credentials(tmp_path: Path) -> None:
    env = {**_env(tmp_path, 4999), "AWS_ACCESS_KEY_ID": "AKIAMINE", "AWS_SECRET_ACCESS_KEY": "secret"}
    result = CliRunner().invoke(local, ["env"], env=env)
    assert result.exit_code == 0
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:4999" in result.output.splitlines()
    assert "AWS_ACCESS_KEY_ID" not in result.output


def test_up_port_in_use_raises_environment_problem(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(local, ["up"], env=_env(tmp_path, port))
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "EnvironmentProblem"
    assert f"port {port} on 127.0.0.1 is in use" in str(result.exception)


def test_console_script_error_path(tmp_path: Path) -> None:
    code = "from authpulse_dagster.cli import main; main()"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, **_env(tmp_path, port)}
        proc = subprocess.run(
            [sys.executable, "-c", code, "local", "up"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.splitlines() == [
        f"authpulse: error: port {port} on 127.0.0.1 is in use; stop what uses it or pass --port / set AUTHPULSE_MOTO_PORT"
    ]

    status = subprocess.run(
        [sys.executable, "-c", code, "local", "status"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert status.returncode == 1
    assert status.stdout.startswith("not running")
