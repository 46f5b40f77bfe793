"""Reading a LANL file into PutRecords-sized chunks of encoded records, in file order.

Lines are read with the batch path's reader and day rule (``iter_batches``,
``iter_with_days``) and encoded with ``live.record.encode``, so a line gets the
same event id and day whether it arrives by file or by stream. Each chunk
respects Kinesis's limits (500 records, 5 MiB of data plus partition keys) and
says which lines it settles.

Time window and pacing use each line's *effective* time: its own dataset time
when valid, else that of the last valid line before it, else (top of the file)
of the first valid line after it, else 0 — the same rule as the day a line is
filed under, so a line without a time stays with its neighbours.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from authpulse_dagster.lanl.days import iter_with_days
from authpulse_dagster.lanl.readers import iter_batches
from authpulse_dagster.live.rate import SpeedupPacer
from authpulse_dagster.live.record import encode
from authpulse_dagster.settings import Settings

# Kinesis PutRecords limits (data + partition key bytes, per call and per record).
MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
# Lines per reader batch: large enough for vectorised reading, small enough
# that the first call goes out early and the encoder never holds the GIL long.
READ_CHUNK_LINES = 5_000
# Records the encoder encodes (about 0.3 ms of work) between voluntary GIL releases.
_YIELD_EVERY = 32
_UNIX_EPOCH = date(1970, 1, 1)

# A PutRecords request entry, built by the encoder so the sender only sends.
Entry = dict[str, Any]


@dataclass(slots=True)
class Chunk:
    """One PutRecords call's worth of records and the lines it settles: (prev_line, last_line]."""

    entries: list[Entry]
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


def encode_chunks(
    path: Path,
    fmt: str,
    settings: Settings,
    *,
    after_line: int,
    window: tuple[int | None, int | None],
    pacer: SpeedupPacer | None,
    max_records: int,
    limit: int | None,
) -> Iterator[Chunk]:
    """Encode the file's lines after ``after_line`` into PutRecords-sized chunks, in file order."""
    source = str(path)
    start_time, end_time = window
    windowed = start_time is not None or end_time is not None
    dates: dict[int, date] = {}
    entries: list[Entry] = []
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
                yield Chunk(entries, prev, line, max_due)
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
                yield Chunk(entries, prev, line, max_due)
                return
        if not entries and line > prev:
            # A stretch of filtered lines: settle it so the checkpoint moves on.
            yield Chunk([], prev, line)
            prev = line
    yield Chunk(entries, prev, line, max_due, eof=True)
