"""One pipeline run per data home at a time (``authpulse run`` / ``authpulse demo``).

Two runs on one home used to interleave their Iceberg commits and catalog
setup (tracebacks, and with different inputs a bronze day left without
silver). The second run is refused with one line naming the holder; the lock
is an ``flock`` on a file under ``run/``, so it is released when the holder
exits, however it exits (no stale lock after a crash or SIGKILL).

Dagster runs launched from the UI are queued by Dagster itself (the daily
pipeline's backfills are single-run); this lock is for the command line.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from typing import Iterator

from authpulse_dagster.errors import EnvironmentProblem
from authpulse_dagster.settings import Settings

LOCK_FILE = "pipeline.lock"


@contextlib.contextmanager
def exclusive_home(settings: Settings, what: str) -> Iterator[None]:
    """Hold the data home's pipeline lock for ``what``; refuse at once when another process holds it."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    path = settings.run_dir / LOCK_FILE
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise EnvironmentProblem(
                f"data home {settings.home} is in use by {holder}; wait for it to finish or set AUTHPULSE_HOME to another folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"authpulse {what} (pid {os.getpid()})")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()
