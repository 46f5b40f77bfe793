"""Stands in for the streaming job on the test cluster: runs until SIGTERM, then stops gracefully.

The real job (``authpulse_dagster.live.stream_job``) needs Spark and Kinesis;
what the stop path relies on is only its contract: on SIGTERM it finishes the
batch in flight and exits 0. This probe keeps that contract and prints what it
was given, so a test can follow the stop from the resource to the process.
"""

import signal
import sys
import threading


def main() -> None:
    stop = threading.Event()
    print("probe: args " + " ".join(sys.argv[1:]), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("probe: running", flush=True)
    if not stop.wait(120):
        print("probe: never asked to stop", flush=True)
        raise SystemExit(3)
    print("probe: stopped gracefully", flush=True)


if __name__ == "__main__":
    main()
