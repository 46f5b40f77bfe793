"""Which day a line is filed under, by the rule both the batch and the replay paths share.

A line belongs to the day of its own time field when that is a valid dataset
time; otherwise to the day of the last valid line before it in the same file,
or of the first valid line after it for lines at the top of a file, or to day
0 of the dataset when a file has no valid line at all.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UNIX_EPOCH_DAY = date(1970, 1, 1).toordinal()


def day_number(day: date) -> int:
    """Days since 1970-01-01 (Arrow's date32)."""
    return day.toordinal() - UNIX_EPOCH_DAY


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


def iter_with_days(batches, epoch: datetime):
    """(batch, day numbers) for each reader batch of one file, in file order."""
    attributor = DayAttributor(epoch, fallback_day=day_number(epoch.date()))
    for batch in batches:
        yield from attributor.days_of(batch)
    yield from attributor.finish()
