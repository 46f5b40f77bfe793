"""Stream raw LANL files into Arrow record batches for the bronze layer.

The reader is deliberately dumb: one row per physical line, the raw bytes kept
as they are, plus the few facts every later step needs (line number, true
size, deterministic event id, the time field if it parses). Field validation
happens later in Spark, where bad rows can be quarantined with reasons; here
the only goal is to never lose or invent a line, never hold an unbounded line
or the whole file in memory, and be fast (this is the ingest hot loop).
"""

from __future__ import annotations

import bz2
import gzip
import os
import zlib
from hashlib import blake2b
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np
import pyarrow as pa

from authpulse_dagster.errors import ConfigError, InputError
from authpulse_dagster.lanl.event_id import DIGEST_SIZE, EventIdAssigner
from authpulse_dagster.lanl.formats import LINE_HARD_CAP, validate_format

__all__ = ["BATCH_SCHEMA", "LINE_HARD_CAP", "iter_batches", "open_binary"]

BATCH_SCHEMA = pa.schema(
    [
        pa.field("line_number", pa.int64(), nullable=False),
        pa.field("payload", pa.binary(), nullable=False),
        pa.field("payload_size", pa.int64(), nullable=False),
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("dataset_time", pa.int64(), nullable=True),
    ]
)

# Read size. Kept <= LINE_HARD_CAP so that only the first line of a block (the
# one completed from the previous block's tail) can exceed the cap.
_BLOCK = LINE_HARD_CAP
# A batch is also cut when its payload bytes reach this, so chunk_lines times
# the cap can never build a huge batch (or overflow int32 binary offsets).
_BATCH_BYTES = 64 << 20
_INT64_MAX = (1 << 63) - 1
_ID_LEN = 2 * DIGEST_SIZE
_NULL_TIME = -1  # internal marker for a null dataset_time (valid times are >= 0)

_GZIP_MAGIC = b"\x1f\x8b"
# A UTF-8 byte order mark some editors put at the start of a text file: not part of the first line.
_UTF8_BOM = b"\xef\xbb\xbf"
_BZIP2_MAGIC = b"BZh"


def require_file(path: str | Path) -> Path:
    """``path`` as a Path, or one line saying why it cannot be read as an input file."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"input path is a directory, not a file: {path}")
    if not p.is_file():
        raise InputError(f"input file not found: {path}")
    if not os.access(p, os.R_OK):
        raise InputError(f"input file is not readable (permissions): {path}")
    return p


def open_binary(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a plain, gzip or bzip2 file for reading, chosen by magic bytes.

    Extensions lie (``auth.txt`` that is gzipped, ``.gz`` that is plain), so
    the first bytes decide.
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(f"input path is a directory, not a file: {path}")
    try:
        with open(p, "rb") as probe:
            magic = probe.read(3)
    except FileNotFoundError:
        raise InputError(f"input file not found: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot open input file {path}: {exc.strerror or exc}") from None
    if magic[:2] == _GZIP_MAGIC:
        return gzip.open(p, "rb")  # type: ignore[return-value]
    if magic == _BZIP2_MAGIC:
        return bz2.open(p, "rb")  # type: ignore[return-value]
    return open(p, "rb")


class _LongLine:
    """A line beyond the cap: its first bytes, true size and a running hash.

    Trailing ``\\r`` bytes are held back until more content proves they are not
    the line terminator, so the hash and size are those of the canonical line.
    """

    __slots__ = ("head", "size", "hasher", "pending_cr")

    def __init__(self) -> None:
        self.head = b""
        self.size = 0
        self.hasher = blake2b(digest_size=DIGEST_SIZE)
        self.pending_cr = 0

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if len(self.head) < LINE_HARD_CAP:
            self.head += chunk[: LINE_HARD_CAP - len(self.head)]
        body = chunk.rstrip(b"\r")
        if body:
            if self.pending_cr:
                self.hasher.update(b"\r" * self.pending_cr)
                self.size += self.pending_cr
            self.hasher.update(body)
            self.size += len(body)
            self.pending_cr = len(chunk) - len(body)
        else:
            self.pending_cr += len(chunk)


def _split_lines(f: BinaryIO) -> Iterator[tuple[list[bytes], int] | _LongLine]:
    """Yield canonical lines in order: ``(lines, approx_bytes)`` lists of lines
    no longer than the cap, or a single :class:`_LongLine` for anything longer."""
    carry = b""
    long: _LongLine | None = None
    opening: bytes | None = f.read(_BLOCK)
    if opening.startswith(_UTF8_BOM):
        opening = opening[len(_UTF8_BOM):] or f.read(_BLOCK)
    while True:
        block, opening = (opening, None) if opening is not None else (f.read(_BLOCK), None)
        if not block:
            break
        if long is not None:
            i = block.find(b"\n")
            if i < 0:
                long.feed(block)
                continue
            long.feed(block[:i])
            yield long
            long = None
            block = block[i + 1 :]
            if not block:
                continue
        has_cr = b"\r" in block or b"\r" in carry
        lines = block.split(b"\n")
        if carry:
            lines[0] = carry + lines[0]
        carry = lines.pop()
        if lines:
            if has_cr:
                lines = [line.rstrip(b"\r") for line in lines]
            first = lines[0]
            if len(first) > LINE_HARD_CAP:  # only the first line can be that long
                big = _LongLine()
                big.feed(first)
                yield big
                del lines[0]
            if lines:
                yield lines, len(block)
        if len(carry) > LINE_HARD_CAP:
            long = _LongLine()
            long.feed(carry)
            carry = b""
    if long is not None:
        yield long
    elif carry:
        yield [carry.rstrip(b"\r")], len(carry)


def _time_parser(max_dataset_seconds: int | None) -> Callable[[bytes], int]:
    limit = _INT64_MAX if max_dataset_seconds is None else min(max_dataset_seconds, _INT64_MAX)

    def parse(field: bytes) -> int:
        # Spaces around the time are trimmed as silver trims them, so bronze files the line under
        # the day silver gives it (else a day could lose it). bytes.isdigit is ASCII-only and
        # False for b"", "-1", "+1", "1_0".
        if not field.isdigit():
            field = field.strip(b" ")
        if not field.isdigit():
            return _NULL_TIME
        if len(field) > 19:
            field = field.lstrip(b"0") or b"0"
            if len(field) > 19:
                return _NULL_TIME
        value = int(field)
        return value if value <= limit else _NULL_TIME

    return parse


class _Pending:
    """Rows accumulated for the next batch."""

    def __init__(self, first_line: int) -> None:
        self.first_line = first_line
        self.payloads: list[bytes] = []
        self.ids: list[str] = []
        self.times: list[int] = []  # _NULL_TIME for null
        self.sizes: dict[int, int] = {}  # row -> true size, for truncated rows
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self.payloads)

    def to_batch(self) -> pa.RecordBatch:
        n = len(self.payloads)
        lengths = np.fromiter(map(len, self.payloads), dtype=np.int64, count=n)
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        payload = pa.Array.from_buffers(
            pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(self.payloads))]
        )
        times = np.fromiter(self.times, dtype=np.int64, count=n)
        for row, size in self.sizes.items():
            lengths[row] = size
        id_offsets = np.arange(0, _ID_LEN * (n + 1), _ID_LEN, dtype=np.int32)
        ids = pa.Array.from_buffers(
            pa.string(), n, [None, pa.py_buffer(id_offsets), pa.py_buffer("".join(self.ids).encode("ascii"))]
        )
        return pa.RecordBatch.from_arrays(
            [
                _int64(np.arange(self.first_line, self.first_line + n, dtype=np.int64)),
                payload,
                _int64(lengths),
                ids,
                _int64(times, valid=times != _NULL_TIME),
            ],
            schema=BATCH_SCHEMA,
        )


def _int64(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    # Built from buffers: pa.array() would import pandas on first use (~0.3 s).
    if valid is None or valid.all():
        return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(pa.int64(), len(values), [bitmap, pa.py_buffer(values)])


def iter_batches(
    path: str | os.PathLike[str],
    fmt: str,
    chunk_lines: int = 100_000,
    max_dataset_seconds: int | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream ``path`` as record batches of at most ``chunk_lines`` rows (see BATCH_SCHEMA).

    Every physical line becomes exactly one row, blank and garbage lines
    included; ``dataset_time`` is null when the first field is not a
    non-negative decimal integer within ``max_dataset_seconds``.
    """
    validate_format(fmt)
    if isinstance(chunk_lines, bool) or not isinstance(chunk_lines, int) or chunk_lines < 1:
        raise ConfigError(f"chunk_lines must be a positive integer, got {chunk_lines!r}")
    if max_dataset_seconds is not None and max_dataset_seconds < 0:
        raise ConfigError(f"max_dataset_seconds must be >= 0, got {max_dataset_seconds}")
    # Validation and opening happen here, at call time, not at the first next().
    assigner = EventIdAssigner(run_value=_time_parser(max_dataset_seconds))
    return _stream(open_binary(path), path, assigner, chunk_lines)


def _stream(f: BinaryIO, path: object, assigner: EventIdAssigner, chunk_lines: int) -> Iterator[pa.RecordBatch]:
    try:
        yield from _batches(f, assigner, chunk_lines)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    finally:
        f.close()


def _batches(f: BinaryIO, assigner: EventIdAssigner, chunk_lines: int) -> Iterator[pa.RecordBatch]:
    pending = _Pending(first_line=1)
    for item in _split_lines(f):
        if isinstance(item, _LongLine):
            if item.size <= LINE_HARD_CAP:  # only trailing \r made it look long
                canon = item.head[: item.size]
                ids, values = assigner.assign_many([canon])
                pending.payloads.append(canon)
                pending.ids.extend(ids)
                pending.times.extend(values)
            else:
                pending.sizes[len(pending)] = item.size
                pending.payloads.append(item.head)
                pending.ids.append(assigner.assign_long(item.head, item.hasher))
                pending.times.append(assigner.time_of(item.head))
            pending.nbytes += len(item.head)
        else:
            lines, nbytes = item
            pos, total = 0, len(lines)
            while pos < total:
                take = min(total - pos, chunk_lines - len(pending))
                segment = lines if take == total else lines[pos : pos + take]
                ids, values = assigner.assign_many(segment)
                pending.payloads.extend(segment)
                pending.ids.extend(ids)
                pending.times.extend(values)
                pending.nbytes += nbytes * take // total
                pos += take
                if len(pending) >= chunk_lines or pending.nbytes >= _BATCH_BYTES:
                    yield pending.to_batch()
                    pending = _Pending(first_line=pending.first_line + len(pending))
            continue
        if len(pending) >= chunk_lines or pending.nbytes >= _BATCH_BYTES:
            yield pending.to_batch()
            pending = _Pending(first_line=pending.first_line + len(pending))
    if len(pending):
        yield pending.to_batch()
