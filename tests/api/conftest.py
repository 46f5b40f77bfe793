"""The SOC API under test: the real ``authpulse api serve`` (uvicorn) on a free port.

Data: the hand-made Iceberg tables of ``tests/queries/seed.py`` (three users,
five days, three alerts). AWS: the session's moto server, with a DynamoDB
table per server so tests never see each other's keys or triage state. Keys
are created and revoked through the real CLI. The triage export goes to its
own folder: the seeded data home is shared and must stay read-only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from authpulse_dagster.local_stack import find_free_port
from authpulse_dagster.settings import Settings
from tests.queries.seed import seeded_settings  # noqa: F401 (a fixture, registered by importing it here)

SERVER_START_SECONDS = 60
CLI = (sys.executable, "-c", "from authpulse_dagster.cli import main; main()")


@dataclass
class LiveApi:
    url: str
    env: dict[str, str]
    log: Path
    keys: dict[str, str]  # name -> token
    triage_dir: Path
    home: Path

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli(self.env, *args, check=check)

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[key]}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def settings(self) -> Settings:
        return Settings.from_env(self.env)


def run_cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"authpulse {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc


def api_env(moto_endpoint: str, home: Path, work: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AUTHPULSE_"))}
    env.update({
        "AUTHPULSE_HOME": str(home),
        "AUTHPULSE_ENV": "local",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(work / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(work / "aws-credentials"),
        "AUTHPULSE_API_TABLE": f"authpulse-api-{uuid.uuid4().hex[:8]}",
        "AUTHPULSE_TRIAGE_URI": str(work / "triage"),
        **extra,
    })
    return env


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = find_free_port()
    handle = open(log, "wb")
    proc = subprocess.Popen(
        [*CLI, "api", "serve", "--port", str(port)],
        env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"authpulse api serve exited {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"authpulse api serve did not answer within {SERVER_START_SECONDS}s")
        time.sleep(0.2)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture(scope="session")
def live_api(moto_endpoint: str, seeded_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:  # noqa: F811
    """One server for the API tests; keys ``reader``, ``triager`` and ``to-revoke`` (triage)."""
    work = tmp_path_factory.mktemp("api")
    # Rate high enough that the contract test's bursts are not throttled (429 is tested on its own).
    env = api_env(moto_endpoint, seeded_settings.home, work, AUTHPULSE_API_RATE_LIMIT="5000", AUTHPULSE_API_BURST="5000")
    keys = {}
    for name, scope in (("reader", "read"), ("triager", "triage"), ("to-revoke", "triage"), ("contract", "triage")):
        out = run_cli(env, "api", "keys", "create", "--name", name, "--scope", scope, "--json").stdout
        keys[name] = json.loads(out)["key"]
    log = work / "server.log"
    proc, url = start_server(env, log)
    try:
        yield LiveApi(url=url, env=env, log=log, keys=keys, triage_dir=work / "triage", home=seeded_settings.home)
    finally:
        stop_server(proc)
