"""spark-submit's main file on EMR: ``authpulse_emr_main.py MODULE [ARGS...]``.

spark-submit runs a Python *file*; AuthPulse's entry points are modules
(``python -m authpulse_dagster.steps``, ``python -m authpulse_dagster.live.stream_job``).
This file runs the named module exactly as ``python -m`` would, with the rest
of the command line as its arguments, so EMR runs the same entry points as a
laptop. The package itself comes from the ``spark.archives`` archive, which is
on ``PYTHONPATH`` (see ``authpulse_dagster.aws_emr.submit``).

**Graceful stop of a long-running step.** In YARN cluster mode cancelling an
EMR step only kills the ``spark-submit`` client; the application (the driver)
carries on. So a long-running step is stopped through an S3 marker instead:
when ``AUTHPULSE_STOP_MARKER_URI`` is set, a watcher thread polls for that
object and, once it exists, sends SIGTERM to this process, the driver, whose
entry point stops gracefully on SIGTERM (the streaming job finishes its batch
in flight). The application then ends, and with it the step (``COMPLETED``).
The signal waits until the module has installed its own SIGTERM handler, so a
stop asked for during start-up is not a kill, but no longer than
``AUTHPULSE_STOP_GRACE_SECONDS`` (default 120): a module that never installs one
(a batch step) then gets SIGTERM's default action and the application ends.

**Driver lease.** When ``AUTHPULSE_DRIVER_LEASE_URI`` is set, a second thread
rewrites that S3 object (JSON: host, pid, start and last heartbeat) every poll
interval while the driver lives, and deletes it when the module returns. The
streaming resource refuses to start a second driver while the lease is fresh:
an EMR step can end (cancelled, interrupted) while its YARN application, the
driver, still runs and still commits with the same checkpoint.
"""

import json
import os
import runpy
import signal
import socket
import sys
import threading
import time
from typing import Any

STOP_MARKER_ENV = "AUTHPULSE_STOP_MARKER_URI"
STOP_POLL_ENV = "AUTHPULSE_STOP_POLL_SECONDS"
STOP_GRACE_ENV = "AUTHPULSE_STOP_GRACE_SECONDS"
LEASE_ENV = "AUTHPULSE_DRIVER_LEASE_URI"


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def _marker_exists(s3, uri: str) -> bool:
    bucket, _, key = uri[len("s3://"):].partition("/")
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except Exception as exc:  # botocore ClientError 404: not there yet
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            return False
        sys.stderr.write(f"authpulse launcher: cannot check stop marker {uri}: {exc}\n")
        return False


def watch_stop_marker(
    s3: Any, uri: str, poll_seconds: float, stop_watching: threading.Event, grace_seconds: float = 120.0
) -> None:
    """Send SIGTERM to this process once ``uri`` exists and a graceful handler is installed (or the grace is over)."""
    while not stop_watching.wait(poll_seconds):
        if _marker_exists(s3, uri):
            deadline = time.monotonic() + grace_seconds
            while (
                signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)
                and time.monotonic() < deadline
                and not stop_watching.wait(0.5)
            ):
                pass
            if not stop_watching.is_set():
                sys.stderr.write(f"authpulse launcher: stop marker {uri} found; asking the job to stop\n")
                os.kill(os.getpid(), signal.SIGTERM)
            return


def hold_lease(s3: Any, uri: str, poll_seconds: float, released: threading.Event) -> None:
    """Heartbeat the driver lease at ``uri`` until ``released`` is set (see module doc)."""
    bucket, key = _split(uri)
    started = time.time()
    while True:
        body = {"host": socket.gethostname(), "pid": os.getpid(), "started_at": started, "updated_at": time.time()}
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode(), ContentType="application/json")
        except Exception as exc:  # noqa: BLE001 - a missed heartbeat must not kill the driver
            sys.stderr.write(f"authpulse launcher: cannot write driver lease {uri}: {exc}\n")
        if released.wait(poll_seconds):
            return


def release_lease(s3: Any, uri: str) -> None:
    bucket, key = _split(uri)
    try:
        s3.delete_object(Bucket=bucket, Key=key)
    except Exception as exc:  # noqa: BLE001 - the lease then goes stale on its own
        sys.stderr.write(f"authpulse launcher: cannot release driver lease {uri}: {exc}\n")


def main() -> None:
    if len(sys.argv) < 2:
        sys.stderr.write("usage: authpulse_emr_main.py MODULE [ARGS...]\n")
        raise SystemExit(2)
    module = sys.argv.pop(1)
    marker = os.environ.get(STOP_MARKER_ENV)
    lease = os.environ.get(LEASE_ENV)
    poll = float(os.environ.get(STOP_POLL_ENV) or 10)
    done = threading.Event()
    heartbeat = None
    s3 = None
    if lease or marker:
        from authpulse_dagster.aws import aws_client
        from authpulse_dagster.settings import Settings

        s3 = aws_client("s3", Settings.from_env())  # this process's settings, read once at its entry point
    if lease:
        heartbeat = threading.Thread(target=hold_lease, args=(s3, lease, poll, done), name="driver-lease", daemon=True)
        heartbeat.start()
    if marker:
        grace = float(os.environ.get(STOP_GRACE_ENV) or 120)
        threading.Thread(
            target=watch_stop_marker, args=(s3, marker, poll, done, grace), name="stop-marker", daemon=True
        ).start()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        done.set()
        if heartbeat is not None:
            heartbeat.join(timeout=poll + 5)
            release_lease(s3, lease)


if __name__ == "__main__":
    main()
