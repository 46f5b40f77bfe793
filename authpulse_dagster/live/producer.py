"""The replay producer: send a LANL file to Kinesis, one record per line, without losing any.

Why it looks the way it does:

* Each call is settled completely (partial failures resent with backoff until
  acknowledged or out of budget) before the next one, so "every line up to N
  is settled" is a single number: the checkpoint (``replay_checkpoint``).
* Settled means acknowledged by Kinesis, filtered out by the time window, or
  recorded in the failed file after the retry budget ran out. A record is
  never silently dropped: ``read == sent + failed + skipped``.
* The parts, one module each: reading and encoding into PutRecords-sized
  chunks (``replay_chunks``), encoding ahead of the sender in a thread timed
  by the wire (``replay_prefetch``), sending with per-record retries
  (``replay_sender``), and the checkpoint. This module runs them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from authpulse_dagster.aws import aws_client
from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lanl.formats import validate_format
from authpulse_dagster.lanl.readers import require_file
from authpulse_dagster.live.rate import MonotonicClock, SpeedupPacer, TokenBucket, batch_size_for_rate
from authpulse_dagster.live.replay_checkpoint import (
    Checkpoint, Totals, check_resumable, default_checkpoint_path, failed_file_for, file_identity, load_checkpoint,
    write_atomic,
)  # fmt: skip
from authpulse_dagster.live.replay_chunks import MAX_RECORDS_PER_CALL, encode_chunks
from authpulse_dagster.live.replay_prefetch import PREFETCH_CHUNKS, GrantOnSend, Prefetch
from authpulse_dagster.live.replay_sender import CLIENT_CONFIG, Sender, append_failed, check_stream
from authpulse_dagster.settings import Settings

__all__ = ["ReplayReport", "replay", "default_checkpoint_path", "failed_file_for"]


@dataclass
class ReplayReport:
    """What one call of :func:`replay` did (this run only; the checkpoint keeps totals).

    ``read == sent + failed + skipped``. Lines skipped because a resumed run
    had already settled them are not counted as read; ``resumed_from`` is the
    checkpoint line the run started after.
    """

    read: int
    sent: int
    retried: int
    failed: int
    skipped: int
    seconds: float
    failed_file: Path | None
    checkpoint: Path
    stream: str = ""
    last_line: int = 0
    resumed_from: int = 0
    interrupted: bool = False
    complete: bool = False

    @property
    def events_per_second(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """One line for the terminal or a log."""
        where = f"; failed records in {self.failed_file}" if self.failed_file else ""
        state = "interrupted" if self.interrupted else ("done" if self.complete else "stopped at the limit")
        return (
            f"replay {state}: {self.sent} of {self.read} lines sent to {self.stream} in {self.seconds:.1f}s "
            f"({self.events_per_second:,.0f} events/s), {self.retried} retries, {self.failed} failed, "
            f"{self.skipped} skipped, last settled line {self.last_line}{where}"
        )


def _check_options(
    rate: float | None, speedup: float | None, limit: int | None,
    start_time: int | None, end_time: int | None, retry_budget: int,
) -> None:  # fmt: skip
    if rate is not None and speedup is not None:
        raise ConfigError("give either a rate (events/s) or a speedup (times real time), not both")
    for name, value in (("rate", rate), ("speedup", speedup)):
        if value is not None and not (value > 0 and value != float("inf")):
            raise ConfigError(f"{name} must be a positive number, got {value!r}")
    for name, value, minimum in (("limit", limit, 1), ("start_time", start_time, 0), ("end_time", end_time, 0)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
            raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if start_time is not None and end_time is not None and end_time <= start_time:
        raise ConfigError(f"end_time ({end_time}) must be after start_time ({start_time})")
    if isinstance(retry_budget, bool) or not isinstance(retry_budget, int) or retry_budget < 1:
        raise ConfigError(f"retry_budget must be an integer >= 1 (attempts per record), got {retry_budget!r}")


def replay(
    path: Path,
    fmt: str,
    settings: Settings,
    *,
    stream: str | None = None,
    rate: float | None = None,
    speedup: float | None = None,
    limit: int | None = None,
    start_time: int | None = None,
    end_time: int | None = None,
    resume: bool = False,
    checkpoint: Path | None = None,
    failed_file: Path | None = None,
    retry_budget: int = 8,
    progress: bool = True,
    stop: threading.Event | None = None,
) -> ReplayReport:
    """Replay ``path`` (a LANL file, plain or compressed) into a Kinesis stream.

    ``rate`` paces to that many events/s; ``speedup`` replays dataset time
    that many times faster than real time. ``limit`` caps the records sent
    (sent or failed) in this run. ``start_time``/``end_time`` keep lines with
    ``start_time <= effective time < end_time``. ``retry_budget`` is the number
    of attempts per record, the first included. Setting ``stop`` finishes the
    call in flight, writes the checkpoint and returns (``interrupted=True``).
    """
    validate_format(fmt)
    _check_options(rate, speedup, limit, start_time, end_time, retry_budget)
    path = require_file(path)
    stream = stream or settings.stream_name
    identity = file_identity(path)
    checkpoint = Path(checkpoint) if checkpoint is not None else default_checkpoint_path(path, fmt, stream, settings)
    failed_file = Path(failed_file) if failed_file is not None else failed_file_for(checkpoint)
    if resume:
        state = load_checkpoint(checkpoint)
        check_resumable(state, identity, fmt, stream, checkpoint)
    else:
        state = Checkpoint(*identity, format=fmt, stream=stream)
    client = aws_client("kinesis", settings, config=CLIENT_CONFIG)
    check_stream(client, stream)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(checkpoint, state.to_json())  # fresh runs overwrite; also proves it is writable

    stop = stop or threading.Event()
    clock = MonotonicClock(sleep=stop.wait)  # pacing waits end early on stop
    max_records = batch_size_for_rate(rate, MAX_RECORDS_PER_CALL) if rate else MAX_RECORDS_PER_CALL
    bucket = TokenBucket(rate, capacity=max_records, clock=clock) if rate else None
    pacer = SpeedupPacer(speedup, clock) if speedup else None
    sender = Sender(client, stream, retry_budget)
    run = Totals()
    resumed_from = state.line
    interrupted = complete = False
    started = time.monotonic()
    bar = tqdm(total=limit, unit="ev", unit_scale=True, desc="replay", disable=not progress, dynamic_ncols=True)
    chunks = encode_chunks(path, fmt, settings, after_line=state.line, window=(start_time, end_time), pacer=pacer,
                     max_records=max_records, limit=limit)  # fmt: skip
    source = Prefetch(chunks, PREFETCH_CHUNKS)
    grants = GrantOnSend(source)
    client.meta.events.register("before-send.kinesis.PutRecords", grants)
    try:
        for chunk in source:
            grants.arm()
            if stop.is_set():
                interrupted = True
                break
            sent, failed, retries = 0, [], 0
            if chunk.entries:
                if bucket is not None:
                    bucket.acquire(len(chunk.entries))
                if pacer is not None:
                    pacer.wait_until(chunk.due)
                if stop.is_set():  # stopped while pacing: this chunk was never in flight
                    interrupted = True
                    break
                before = sender.retried
                sent, failed = sender.send(chunk.entries)
                retries = sender.retried - before
                if failed:
                    append_failed(failed_file, failed)  # before the checkpoint counts them as settled
            for totals in (run, state.totals):
                totals.retried += retries
                totals.read += chunk.read
                totals.sent += sent
                totals.failed += len(failed)
                totals.skipped += chunk.read - len(chunk.entries)
            state.line, state.eof = chunk.last_line, chunk.eof
            write_atomic(checkpoint, state.to_json())
            complete = chunk.eof
            bar.update(len(chunk.entries))
            bar.set_postfix(retried=run.retried, failed=run.failed, refresh=False)
            grants.settle()
    finally:
        source.close()
        bar.close()
    return ReplayReport(
        read=run.read,
        sent=run.sent,
        retried=run.retried,
        failed=run.failed,
        skipped=run.skipped,
        seconds=time.monotonic() - started,
        failed_file=failed_file if run.failed else None,
        checkpoint=checkpoint,
        stream=stream,
        last_line=state.line,
        resumed_from=resumed_from,
        interrupted=interrupted or (stop.is_set() and not complete),
        complete=complete or state.eof,
    )
