"""``StreamingJobResource``: start, stop and watch the long-running streaming job.

A Dagster run is no place for a process that never ends, so the job runs
beside Dagster: locally as a detached process (``python -m
authpulse_dagster.live.stream_job``) with its pid, log and status file under
the data home; in AWS as a long-running EMR step behind the same interface
(``authpulse_dagster.aws_emr.streaming.EmrStreamingJobResource``, a subclass).
Dagster jobs and the CLI call ``start``, ``stop`` and ``status``; build the one
for the environment with ``resources.streaming_for_env.streaming_resource``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Optional

import dagster as dg

from authpulse_dagster.errors import EnvironmentProblem
from authpulse_dagster.processes import pid_alive
from authpulse_dagster.resources.run_settings import run_settings
from authpulse_dagster.settings import Settings

PID_FILE = "stream.pid"
from authpulse_dagster.live.status import STATUS_FILE  # noqa: F401 (re-exported for callers)
LOG_FILE = "stream.log"


@dataclass
class StreamStatus:
    running: bool
    pid: int | None
    state: str  # running | stopped | failed | not started
    last_batch_id: int | None
    last_progress: str | None
    millis_behind_latest: int | None
    processing_lag_ms: int | None
    log: str
    detail: dict[str, Any]


class StreamingJobResource(dg.ConfigurableResource):
    """The local implementation: a detached process on this machine."""

    trigger_seconds: float = 30.0
    max_records_per_batch: int = 50_000
    # Gold and risk are refreshed after a batch at most this often (0: after every batch); ingest
    # into bronze and silver is not throttled.
    refresh_seconds: float = 0.0
    home: Optional[str] = None  # overrides AUTHPULSE_HOME, e.g. in tests

    def settings(self) -> Settings:
        return run_settings(self.home)

    def _pid(self, s: Settings) -> int | None:
        try:
            pid = int((s.run_dir / PID_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def start(self) -> StreamStatus:
        """Start the job unless it is already running (idempotent)."""
        from authpulse_dagster.local_stack import apply_local_environment

        s = self.settings()
        if self._pid(s):
            return self.status()
        if apply_local_environment(s) is None and s.env == "local":
            raise EnvironmentProblem("the local stack is not running; start it with `authpulse local up`")
        s.run_dir.mkdir(parents=True, exist_ok=True)
        s.logs_dir.mkdir(parents=True, exist_ok=True)
        log = open(s.logs_dir / LOG_FILE, "ab")
        env = {**os.environ, "AUTHPULSE_HOME": str(s.home), "PYSPARK_PYTHON": sys.executable}
        proc = subprocess.Popen(
            [sys.executable, "-m", "authpulse_dagster.live.stream_job",
             "--trigger-seconds", str(self.trigger_seconds), "--max-records", str(self.max_records_per_batch),
             "--refresh-seconds", str(self.refresh_seconds)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )
        (s.run_dir / PID_FILE).write_text(str(proc.pid))
        return self.status()

    def stop(self, timeout: float = 180.0) -> StreamStatus:
        """Ask the job to finish its batch in flight and stop; kill it if it does not within ``timeout``."""
        s = self.settings()
        pid = self._pid(s)
        if pid:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.5)
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        (s.run_dir / PID_FILE).unlink(missing_ok=True)
        return self.status()

    def status(self) -> StreamStatus:
        s = self.settings()
        pid = self._pid(s)
        try:
            detail = json.loads((s.run_dir / STATUS_FILE).read_text())
        except (OSError, ValueError):
            detail = {}
        state = "running" if pid else (detail.get("state") if detail.get("state") in ("stopped", "failed") else "not started")
        if not pid and detail.get("state") == "running":
            state = "failed"  # it said running, but the process is gone: killed or crashed
        return StreamStatus(
            running=pid is not None,
            pid=pid,
            state=state,
            last_batch_id=detail.get("batch_id"),
            last_progress=detail.get("finished_at"),
            millis_behind_latest=detail.get("millis_behind_latest"),
            processing_lag_ms=detail.get("processing_lag_ms"),
            log=str(s.logs_dir / LOG_FILE),
            detail=detail,
        )
