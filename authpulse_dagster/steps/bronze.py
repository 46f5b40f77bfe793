"""Bronze ingest from files: every line of every landed file into ``raw_events``.

Files are landed as ``$AUTHPULSE_HOME/landing/<format>/<name>`` (plain, .gz
or .bz2). Each line is filed under a day: the day of its own time field when
that is a valid dataset time, otherwise the day of the last valid line before
it in the same file (or of the first valid line after it, for lines at the
top of a file; or day 0 of the dataset when the file has no valid line). So
every line belongs to exactly one partition and nothing is dropped: lines the
parser later rejects still reach the quarantine through their bronze day.

This step streams files through the reader in chunks on the driver: gzip is
not splittable, so a single reader per file is what the format allows.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from authpulse_dagster.lakehouse.schemas import RAW_EVENTS
from authpulse_dagster.lakehouse.tables import DayReplacer, ensure_table
from authpulse_dagster.lanl.formats import FORMATS
from authpulse_dagster.lanl.readers import iter_batches
from authpulse_dagster.steps.context import StepContext, StepResult

UNIX_EPOCH_DAY = date(1970, 1, 1).toordinal()


def landed_files(landing_dir: Path) -> list[tuple[Path, str]]:
    """(path, format) for every file under ``landing/<format>/``, in a stable order."""
    found = []
    for fmt in FORMATS:
        folder = landing_dir / fmt
        if folder.is_dir():
            found += [(p, fmt) for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")]
    return found


class DayAttributor:
    """Files each line under a day, carrying the last valid day across chunks of one file."""

    def __init__(self, epoch: datetime, fallback_day: int):
        self.epoch_seconds = int(epoch.timestamp())
        self.fallback_day = fallback_day
        self.last_day: int | None = None
        self.pending: list[pa.RecordBatch] = []

    def days_of(self, batch: pa.RecordBatch) -> list[tuple[pa.RecordBatch, np.ndarray]]:
        """Return (batch, day numbers) pairs ready to write; may hold leading batches back."""
        t = batch.column("dataset_time")
        # Times are non-negative and the epoch is after 1970, so integer division floors.
        own = pc.divide(pc.add(t, self.epoch_seconds), 86400)
        if self.last_day is not None:
            own = pc.fill_null(pc.fill_null_forward(own), self.last_day)
        else:
            own = pc.fill_null_backward(pc.fill_null_forward(own))
            if own.null_count == len(own):
                self.pending.append(batch)  # no valid time yet: wait for one
                return []
        out = [(b, np.full(b.num_rows, own[0].as_py(), dtype=np.int64)) for b in self.pending]
        self.pending = []
        self.last_day = own[-1].as_py()
        out.append((batch, own.to_numpy(zero_copy_only=False).astype(np.int64)))
        return out

    def finish(self) -> list[tuple[pa.RecordBatch, np.ndarray]]:
        out = [(b, np.full(b.num_rows, self.fallback_day, dtype=np.int64)) for b in self.pending]
        self.pending = []
        return out


def run(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    settings = ctx.settings
    table = ensure_table(ctx.catalog, RAW_EVENTS)
    wanted = {d.toordinal() - UNIX_EPOCH_DAY for d in ctx.days}
    replacer = DayReplacer(table, ctx.days, ctx.snapshot_properties(RAW_EVENTS.name))
    fallback_day = settings.dataset_epoch.date().toordinal() - UNIX_EPOCH_DAY
    ingested_at = pa.scalar(datetime.now(timezone.utc), pa.timestamp("us", tz="UTC"))
    files = landed_files(settings.landing_dir)
    lines_read = 0
    for path, fmt in files:
        attributor = DayAttributor(settings.dataset_epoch, fallback_day)
        batches = iter_batches(path, fmt, max_dataset_seconds=settings.max_dataset_seconds)
        for batch in _chain(batches, attributor):
            rows, day_numbers = batch
            lines_read += rows.num_rows
            keep = np.isin(day_numbers, list(wanted))
            if not keep.any():
                continue
            mask = pa.array(keep)
            n = int(keep.sum())
            selected = rows.filter(mask)
            days = pa.array(day_numbers[keep].astype(np.int32), pa.int32()).cast(pa.date32())
            replacer.write(
                pa.table(
                    {
                        "event_id": selected.column("event_id"),
                        "payload": selected.column("payload"),
                        "payload_size": selected.column("payload_size"),
                        "source": pa.repeat(pa.scalar("file", pa.string()), n),
                        "format": pa.repeat(pa.scalar(fmt, pa.string()), n),
                        "source_file": pa.repeat(pa.scalar(str(path), pa.string()), n),
                        "line_number": selected.column("line_number"),
                        "dataset_time": selected.column("dataset_time"),
                        "shard_id": pa.nulls(n, pa.string()),
                        "sequence_number": pa.nulls(n, pa.string()),
                        "arrival_ts": pa.nulls(n, pa.timestamp("us", tz="UTC")),
                        "event_date": days,
                        "ingested_at": pa.repeat(ingested_at, n),
                    }
                )
            )
    snapshots = replacer.commit()
    rows_by_day = {d.isoformat(): replacer.rows(d) for d in ctx.days}
    return StepResult(
        metadata={
            RAW_EVENTS.name: {
                "rows": sum(rows_by_day.values()),
                "rows_by_day": rows_by_day,
                "files": [str(p) for p, _ in files],
                "lines_scanned": lines_read,
                "snapshots": {d.isoformat(): s for d, s in snapshots.items()},
                "table": RAW_EVENTS.identifier,
                "location": table.location(),
                "seconds": round(time.monotonic() - started, 3),
            }
        }
    )


def _chain(batches, attributor: DayAttributor):
    for batch in batches:
        yield from attributor.days_of(batch)
    yield from attributor.finish()
