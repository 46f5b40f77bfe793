"""Stands in for a driver that does not stop when asked: it ignores SIGTERM.

A wedged JVM, a batch that never finishes, a handler that swallows the signal:
whatever the cause, ``stop()`` then has to end the YARN application itself.
Only SIGKILL (what ``yarn application -kill`` ends with) stops this process.
"""

import signal
import time


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: print("probe: SIGTERM ignored", flush=True))
    print("probe: running", flush=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.1)
    print("probe: never killed", flush=True)
    raise SystemExit(3)


if __name__ == "__main__":
    main()
