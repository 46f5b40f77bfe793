"""Encoding a few calls ahead of the sender, in a thread, timed by the wire.

The encoder's CPU work overlaps the wait for Kinesis: it is granted one more
chunk just as each request goes on the wire (a botocore ``before-send``
hook), so it does not fight the sender for the GIL while a request is
serialised or a reply parsed. That keeps the producer level with a bare
``put_records`` loop (``bench/replay.py``).
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Iterator

from authpulse_dagster.live.replay_chunks import Chunk

# Chunks encoded ahead of the sender; bounds memory to a few 5 MiB calls.
PREFETCH_CHUNKS = 4


class Prefetch:
    """Runs a chunk generator in a thread, at most ``depth`` chunks ahead of the consumer.

    The consumer grants the encoder one more chunk per chunk it takes, and
    does so (via :meth:`grant`) just as that chunk's request goes on the
    wire: encoding then runs while the sender waits for Kinesis, instead of
    fighting it for the GIL while it serialises a request or parses a reply.
    """

    def __init__(self, source: Iterator[Chunk], depth: int) -> None:
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()  # bounded by the permits
        self._permits = threading.Semaphore(depth)
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(source,), name="replay-encoder", daemon=True)
        self._thread.start()

    def _run(self, source: Iterator[Chunk]) -> None:
        try:
            while self._wait_for_permit():
                try:
                    item = next(source)
                except StopIteration:
                    self._queue.put(("end", None))
                    return
                self._queue.put(("item", item))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._queue.put(("error", exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # closes the input file

    def _wait_for_permit(self) -> bool:
        while not self._cancel.is_set():
            if self._permits.acquire(timeout=0.1):
                return True
        return False

    def grant(self) -> None:
        """Let the encoder prepare one more chunk."""
        self._permits.release()

    def __iter__(self) -> Iterator[Chunk]:
        while True:
            kind, value = self._queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    def close(self) -> None:
        self._cancel.set()
        self._thread.join()


class GrantOnSend:
    """A botocore ``before-send`` handler that grants the encoder its next chunk once per chunk."""

    def __init__(self, prefetch: Prefetch) -> None:
        self.prefetch = prefetch
        self.armed = False

    def arm(self) -> None:
        self.armed = True

    def __call__(self, **_: Any) -> None:
        # Must return None: a before-send handler's return value would replace the HTTP call.
        if self.armed:
            self.armed = False
            self.prefetch.grant()

    settle = __call__  # after the chunk, for chunks that never reached the wire
