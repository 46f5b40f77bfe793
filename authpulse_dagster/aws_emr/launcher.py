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
stop asked for during start-up is not a kill.
"""

import os
import runpy
import signal
import sys
import threading

STOP_MARKER_ENV = "AUTHPULSE_STOP_MARKER_URI"
STOP_POLL_ENV = "AUTHPULSE_STOP_POLL_SECONDS"


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


def watch_stop_marker(uri: str, poll_seconds: float, stop_watching: threading.Event) -> None:
    """Send SIGTERM to this process once ``uri`` exists and a graceful handler is installed."""
    from authpulse_dagster.aws import aws_client

    s3 = aws_client("s3")
    while not stop_watching.wait(poll_seconds):
        if _marker_exists(s3, uri):
            while signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None) and not stop_watching.wait(0.5):
                pass
            if not stop_watching.is_set():
                sys.stderr.write(f"authpulse launcher: stop marker {uri} found; asking the job to stop\n")
                os.kill(os.getpid(), signal.SIGTERM)
            return


def main() -> None:
    if len(sys.argv) < 2:
        sys.stderr.write("usage: authpulse_emr_main.py MODULE [ARGS...]\n")
        raise SystemExit(2)
    module = sys.argv.pop(1)
    marker = os.environ.get(STOP_MARKER_ENV)
    done = threading.Event()
    if marker:
        poll = float(os.environ.get(STOP_POLL_ENV) or 10)
        threading.Thread(target=watch_stop_marker, args=(marker, poll, done), name="stop-marker", daemon=True).start()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        done.set()


if __name__ == "__main__":
    main()
