"""The replay producer: send a LANL file to Kinesis, one record per line, without losing any.

Why it looks the way it does:

* Lines are read with the batch path's reader and day rule (``iter_batches``,
  ``iter_with_days``) and encoded with ``live.record.encode``, so a line gets
  the same event id and day whether it arrives by file or by stream.
* Each PutRecords call respects Kinesis's limits (500 records, 5 MiB of data
  plus partition keys). A call is settled completely (partial failures resent
  with backoff until acknowledged or out of budget) before the next one, so
  "every line up to N is settled" is a single number: the checkpoint.
* Settled means acknowledged by Kinesis, filtered out by the time window, or
  recorded in the failed file after the retry budget ran out. A record is
  never silently dropped: ``read == sent + failed + skipped``.
* Encoding runs in a thread a few calls ahead of sending, started as each
  request goes on the wire, so its CPU work overlaps the wait for Kinesis
  and the producer keeps up with a bare ``put_records`` loop
  (``bench/replay.py``).
* Throttling, 5xx and connection errors of a whole call are retried by
  botocore (``aws.aws_client`` sets its retry mode); this module only retries
  the per-record failures a successful call reports, and counts a call that
  still fails as one failed attempt of each of its records.

Time window and pacing use each line's *effective* time: its own dataset time
when valid, else that of the last valid line before it, else (top of the file)
of the first valid line after it, else 0 — the same rule as the day a line is
filed under, so a line without a time stays with its neighbours.

Checkpoints and the failed file are written with plain writes and an atomic
rename: they survive the process being killed at any point (not a power cut).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from tqdm import tqdm

from authpulse_dagster.aws import aws_client
from authpulse_dagster.errors import AuthPulseError, ConfigError, EnvironmentProblem
from authpulse_dagster.lanl.days import iter_with_days
from authpulse_dagster.lanl.formats import validate_format
from authpulse_dagster.lanl.readers import iter_batches, require_file
from authpulse_dagster.live.record import encode
from authpulse_dagster.live.rate import MonotonicClock, SpeedupPacer, TokenBucket, batch_size_for_rate
from authpulse_dagster.settings import Settings

__all__ = ["ReplayReport", "replay", "default_checkpoint_path", "failed_file_for"]

# Kinesis PutRecords limits (data + partition key bytes, per call and per record).
MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
# Lines per reader batch: large enough for vectorised reading, small enough
# that the first call goes out early and the encoder never holds the GIL long.
READ_CHUNK_LINES = 5_000
# Chunks encoded ahead of the sender; bounds memory to a few 5 MiB calls.
PREFETCH_CHUNKS = 4
# Backoff for per-record failures: exponential with full jitter (AWS
# architecture blog), capped so a stop request is honoured within seconds.
BACKOFF_BASE = 0.05
BACKOFF_CAP = 2.0
CHECKPOINT_VERSION = 1
# Records the encoder encodes (about 0.3 ms of work) between voluntary GIL releases.
_YIELD_EVERY = 32
# API errors that no retry can fix: stop and say so, instead of filling the
# failed file with every record of the file.
_FATAL_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "ExpiredToken",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSNotFoundException",
        "KMSInvalidStateException",
    }
)
_UNIX_EPOCH = date(1970, 1, 1)
# Client-side parameter validation walks every record of every call (~2.6 us a
# record, on the sender's critical path); the requests are built here to the
# API's shape and encode() keeps records within 1 MiB, so it only costs. Were
# a request ever malformed, Kinesis's own validation would reject it and its
# records would go to the failed file like any other failure.
_CLIENT_CONFIG = Config(parameter_validation=False)


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


# ---------------------------------------------------------------- checkpoint


@dataclass
class _Totals:
    read: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass
class _Checkpoint:
    """The resumable state; ``line`` is the last line such that it and every line before it are settled."""

    path: str
    size: int
    mtime_ns: int
    format: str
    stream: str
    line: int = 0
    eof: bool = False
    totals: _Totals = field(default_factory=_Totals)

    def to_json(self) -> str:
        body = {"version": CHECKPOINT_VERSION, **asdict(self)}
        body["updated"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        return json.dumps(body, indent=1)


def default_checkpoint_path(path: Path, fmt: str, stream: str, settings: Settings) -> Path:
    """``<run_dir>/replay-<hash>.json``, stable for one file, format and stream."""
    key = f"{Path(path).resolve()}\0{fmt}\0{stream}".encode()
    return settings.run_dir / f"replay-{hashlib.sha256(key).hexdigest()[:16]}.json"


def failed_file_for(checkpoint: Path) -> Path:
    """The default failed-records file that goes with a checkpoint."""
    return checkpoint.with_name(checkpoint.stem + ".failed.jsonl")


def _identity(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def _load_checkpoint(checkpoint: Path) -> _Checkpoint:
    try:
        raw = json.loads(checkpoint.read_text(encoding="utf-8"))
        if raw.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"version {raw.get('version')!r}")
        totals = _Totals(**raw["totals"])
        return _Checkpoint(
            path=str(raw["path"]), size=int(raw["size"]), mtime_ns=int(raw["mtime_ns"]),
            format=str(raw["format"]), stream=str(raw["stream"]), line=int(raw["line"]),
            eof=bool(raw["eof"]), totals=totals,
        )  # fmt: skip
    except FileNotFoundError:
        raise ConfigError(
            f"cannot resume: no checkpoint at {checkpoint}; run without --resume to start from the first line"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"checkpoint {checkpoint} is unreadable ({exc}); delete it or run without --resume") from None


def _check_resumable(
    state: _Checkpoint, identity: tuple[str, int, int], fmt: str, stream: str, checkpoint: Path
) -> None:
    path, size, mtime_ns = identity
    if (state.path, state.size, state.mtime_ns) != identity:
        raise ConfigError(
            f"cannot resume: the input changed since checkpoint {checkpoint} was written "
            f"(it was {state.path}, {state.size} bytes, mtime_ns {state.mtime_ns}; now {path}, {size} bytes, "
            f"mtime_ns {mtime_ns}); run without --resume to start over"
        )
    if (state.format, state.stream) != (fmt, stream):
        raise ConfigError(
            f"cannot resume: checkpoint {checkpoint} is for format {state.format} to stream {state.stream}, "
            f"not {fmt} to {stream}"
        )


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------- reading and encoding


# A PutRecords request entry, built by the encoder so the sender only sends.
_Entry = dict[str, Any]


@dataclass(frozen=True)
class _Failure:
    """A record rejected for good: what goes to the failed file."""

    entry: _Entry
    attempts: int
    code: str
    message: str


@dataclass(slots=True)
class _Chunk:
    """One PutRecords call's worth of records and the lines it settles: (prev_line, last_line]."""

    entries: list[_Entry]
    prev_line: int
    last_line: int
    due: float = 0.0  # speedup: seconds after the pacer's anchor when all entries are due
    eof: bool = False

    @property
    def read(self) -> int:
        return self.last_line - self.prev_line


def _with_times(
    pairs: Iterable[tuple[pa.RecordBatch, np.ndarray]],
) -> Iterator[tuple[pa.RecordBatch, np.ndarray, np.ndarray]]:
    """Add each line's effective time (see module doc) to the (batch, days) pairs."""
    last: int | None = None
    held: list[tuple[pa.RecordBatch, np.ndarray]] = []
    for batch, days in pairs:
        t = batch.column("dataset_time")
        if last is None:
            if t.null_count == len(t):
                held.append((batch, days))  # no valid time yet: wait for the first one
                continue
            filled = pc.fill_null_backward(pc.fill_null_forward(t))
            for b, d in held:
                yield b, d, np.full(b.num_rows, filled[0].as_py(), dtype=np.int64)
            held = []
        else:
            filled = pc.fill_null(pc.fill_null_forward(t), last)
        times = filled.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        last = int(times[-1])
        yield batch, days, times
    for b, d in held:  # a file without any valid time: day 0, time 0
        yield b, d, np.zeros(b.num_rows, dtype=np.int64)


def _chunks(
    path: Path,
    fmt: str,
    settings: Settings,
    *,
    after_line: int,
    window: tuple[int | None, int | None],
    pacer: SpeedupPacer | None,
    max_records: int,
    limit: int | None,
) -> Iterator[_Chunk]:
    """Encode the file's lines after ``after_line`` into PutRecords-sized chunks, in file order."""
    source = str(path)
    start_time, end_time = window
    windowed = start_time is not None or end_time is not None
    dates: dict[int, date] = {}
    entries: list[_Entry] = []
    nbytes = 0
    first_due = max_due = 0.0
    prev = line = after_line  # last line settled by earlier chunks / last line consumed
    taken = 0
    batches = iter_batches(path, fmt, READ_CHUNK_LINES, settings.max_dataset_seconds)
    for batch, days, times in _with_times(iter_with_days(batches, settings.dataset_epoch)):
        first = batch.column("line_number")[0].as_py()
        begin = max(0, after_line + 1 - first)
        if begin >= batch.num_rows:
            continue
        if begin:
            batch, days, times = batch.slice(begin), days[begin:], times[begin:]
            first += begin
        payloads = batch.column("payload").to_pylist()
        sizes = batch.column("payload_size").to_pylist()
        ids = batch.column("event_id").to_pylist()
        own_times = batch.column("dataset_time").to_pylist()
        day_numbers = days.tolist()
        keep = None
        if windowed:
            mask = np.ones(len(times), dtype=bool)
            if start_time is not None:
                mask &= times >= start_time
            if end_time is not None:
                mask &= times < end_time
            keep = mask.tolist()
        due_times = times.tolist() if pacer is not None else None
        for i, payload in enumerate(payloads):
            n = first + i
            if keep is not None and not keep[i]:
                line = n
                continue
            day = day_numbers[i]
            event_date = dates.get(day)
            if event_date is None:
                event_date = dates[day] = _UNIX_EPOCH + timedelta(days=day)
            data, key = encode(
                event_id=ids[i], fmt=fmt, line=payload, payload_size=sizes[i], dataset_time=own_times[i],
                event_date=event_date, source_file=source, line_number=n,
            )  # fmt: skip
            size = len(data) + len(key.encode("utf-8"))
            due = pacer.due(due_times[i]) if pacer is not None else 0.0  # type: ignore[index]
            if entries and (
                len(entries) >= max_records
                or nbytes + size > MAX_BYTES_PER_CALL
                or (pacer is not None and pacer.should_cut(first_due, due))
            ):
                yield _Chunk(entries, prev, line, max_due)
                entries, nbytes, prev = [], 0, line
            if not entries:
                first_due = max_due = due
            entries.append({"Data": data, "PartitionKey": key})
            nbytes += size
            max_due = max(max_due, due)
            line = n
            taken += 1
            if not taken % _YIELD_EVERY:
                # Let the sender take the GIL now rather than after a whole switch
                # interval (5 ms): it is mid-request and the wire waits for it.
                time.sleep(0)
            if limit is not None and taken >= limit:
                yield _Chunk(entries, prev, line, max_due)
                return
        if not entries and line > prev:
            # A stretch of filtered lines: settle it so the checkpoint moves on.
            yield _Chunk([], prev, line)
            prev = line
    yield _Chunk(entries, prev, line, max_due, eof=True)


class _Prefetch:
    """Runs a chunk generator in a thread, at most ``depth`` chunks ahead of the consumer.

    The consumer grants the encoder one more chunk per chunk it takes, and
    does so (via :meth:`grant`) just as that chunk's request goes on the
    wire: encoding then runs while the sender waits for Kinesis, instead of
    fighting it for the GIL while it serialises a request or parses a reply.
    """

    def __init__(self, source: Iterator[_Chunk], depth: int) -> None:
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()  # bounded by the permits
        self._permits = threading.Semaphore(depth)
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(source,), name="replay-encoder", daemon=True)
        self._thread.start()

    def _run(self, source: Iterator[_Chunk]) -> None:
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

    def __iter__(self) -> Iterator[_Chunk]:
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


class _GrantOnSend:
    """A botocore ``before-send`` handler that grants the encoder its next chunk once per chunk."""

    def __init__(self, prefetch: "_Prefetch | _Inline") -> None:
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


class _Inline:
    """The same interface without a thread (PREFETCH_CHUNKS = 0)."""

    def __init__(self, source: Iterator[_Chunk]) -> None:
        self._source = source

    def __iter__(self) -> Iterator[_Chunk]:
        return self._source

    def grant(self) -> None:
        pass

    def close(self) -> None:
        close = getattr(self._source, "close", None)
        if close is not None:
            close()


# ---------------------------------------------------------------- sending


class _Sender:
    """PutRecords with per-record retries; whole-call retries are botocore's."""

    def __init__(
        self,
        client: Any,
        stream: str,
        budget: int,
        sleep: Callable[[float], object] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.stream = stream
        self.budget = budget
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.retried = 0

    def backoff(self, retry: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(retry-1))]."""
        return self.rng.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (retry - 1)))

    def send(self, entries: list[_Entry]) -> tuple[int, list[_Failure]]:
        """Send until each entry is acknowledged or out of attempts; return (sent, failed for good).

        Every record still pending has failed every earlier round, so the
        round number is each pending record's attempt count.
        """
        pending, failed, sent, attempt = entries, [], 0, 0
        while pending:
            if attempt:
                self.sleep(self.backoff(attempt))
            attempt += 1
            errors = self._put(pending)
            if errors is None:
                return sent + len(pending), failed
            again = []
            for entry, error in zip(pending, errors):
                if error is None:
                    sent += 1
                elif attempt < self.budget:
                    again.append(entry)
                else:
                    failed.append(_Failure(entry, attempt, *error))
            self.retried += len(again)
            pending = again
        return sent, failed

    def _put(self, pending: list[_Entry]) -> list[tuple[str, str] | None] | None:
        """One call; None when every record was accepted, else per-record errors in request order."""
        try:
            response = self.client.put_records(StreamName=self.stream, Records=pending)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code", "ClientError")), str(error.get("Message", exc))
            if code in _FATAL_CODES:
                raise _fatal(self.stream, code, message) from None
            return [(code, message)] * len(pending)
        except BotoCoreError as exc:  # connection refused/reset, timeouts: botocore already retried
            return [(type(exc).__name__, str(exc))] * len(pending)
        if not response.get("FailedRecordCount"):
            return None
        results = response["Records"]
        if len(results) != len(pending):
            # Cannot tell which records were written; retrying could duplicate, skipping could lose.
            raise EnvironmentProblem(
                f"Kinesis answered PutRecords for {len(pending)} records with {len(results)} results; stopping"
            )
        return [(r["ErrorCode"], r.get("ErrorMessage", "")) if r.get("ErrorCode") else None for r in results]


def _fatal(stream: str, code: str, message: str) -> AuthPulseError:
    if code == "ResourceNotFoundException":
        return ConfigError(
            f"Kinesis stream {stream!r} does not exist ({message}); create it (in local mode: `authpulse local up`) "
            "or choose another with --stream / AUTHPULSE_STREAM"
        )
    return EnvironmentProblem(
        f"Kinesis refused PutRecords on {stream!r} ({code}: {message}); fix it and rerun with --resume"
    )


def _check_stream(client: Any, stream: str) -> None:
    """Fail before touching the checkpoint when the stream is missing or unreachable."""
    try:
        client.describe_stream_summary(StreamName=stream)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise _fatal(stream, str(error.get("Code", "")), str(error.get("Message", exc))) from None
    except BotoCoreError as exc:
        raise EnvironmentProblem(f"cannot reach Kinesis to look up stream {stream!r}: {exc}") from None


def _append_failed(path: Path, failures: list[_Failure]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as out:
        for f in failures:
            record = json.loads(f.entry["Data"])
            row = {
                "record": record,
                "partition_key": f.entry["PartitionKey"],
                "line_number": record.get("line_number"),
                "attempts": f.attempts,
                "error_code": f.code,
                "error_message": f.message,
            }
            out.write(json.dumps(row, separators=(",", ":")) + "\n")


# ---------------------------------------------------------------- entry point


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
    identity = _identity(path)
    checkpoint = Path(checkpoint) if checkpoint is not None else default_checkpoint_path(path, fmt, stream, settings)
    failed_file = Path(failed_file) if failed_file is not None else failed_file_for(checkpoint)
    if resume:
        state = _load_checkpoint(checkpoint)
        _check_resumable(state, identity, fmt, stream, checkpoint)
    else:
        state = _Checkpoint(*identity, format=fmt, stream=stream)
    client = aws_client("kinesis", settings, config=_CLIENT_CONFIG)
    _check_stream(client, stream)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(checkpoint, state.to_json())  # fresh runs overwrite; also proves it is writable

    stop = stop or threading.Event()
    clock = MonotonicClock(sleep=stop.wait)  # pacing waits end early on stop
    max_records = batch_size_for_rate(rate, MAX_RECORDS_PER_CALL) if rate else MAX_RECORDS_PER_CALL
    bucket = TokenBucket(rate, capacity=max_records, clock=clock) if rate else None
    pacer = SpeedupPacer(speedup, clock) if speedup else None
    sender = _Sender(client, stream, retry_budget)
    run = _Totals()
    resumed_from = state.line
    interrupted = complete = False
    started = time.monotonic()
    bar = tqdm(total=limit, unit="ev", unit_scale=True, desc="replay", disable=not progress, dynamic_ncols=True)
    chunks = _chunks(path, fmt, settings, after_line=state.line, window=(start_time, end_time), pacer=pacer,
                     max_records=max_records, limit=limit)  # fmt: skip
    source = _Prefetch(chunks, PREFETCH_CHUNKS) if PREFETCH_CHUNKS else _Inline(chunks)
    grants = _GrantOnSend(source)
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
                    _append_failed(failed_file, failed)  # before the checkpoint counts them as settled
            for totals in (run, state.totals):
                totals.retried += retries
                totals.read += chunk.read
                totals.sent += sent
                totals.failed += len(failed)
                totals.skipped += chunk.read - len(chunk.entries)
            state.line, state.eof = chunk.last_line, chunk.eof
            _write_atomic(checkpoint, state.to_json())
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
