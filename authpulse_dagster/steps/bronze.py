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
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
from pyiceberg.expressions import And, EqualTo

from authpulse_dagster.lakehouse.schemas import RAW_EVENTS
from authpulse_dagster.lakehouse.raw_zone import LandedFile, landed_files, local_copy
from authpulse_dagster.lakehouse.tables import DayReplacer, ensure_table
from authpulse_dagster.lanl.days import day_number, iter_with_days
from authpulse_dagster.lanl.readers import iter_batches
from authpulse_dagster.steps.context import StepContext, StepResult


def _land_file(ctx: StepContext, replacer: DayReplacer, wanted: set[int], ingested_at: pa.Scalar, local: Path,
               landed: LandedFile) -> int:
    """Stage the rows of one landed file that fall on the wanted days; return the lines read."""
    settings, fmt, lines_read = ctx.settings, landed.fmt, 0
    batches = iter_batches(local, fmt, max_dataset_seconds=settings.max_dataset_seconds)
    for batch in iter_with_days(batches, settings.dataset_epoch):
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
                    "source_file": pa.repeat(pa.scalar(landed.name, pa.string()), n),
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
    return lines_read


def run(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    settings = ctx.settings
    table = ensure_table(ctx.catalog, RAW_EVENTS)
    wanted = {day_number(d) for d in ctx.days}
    replacer = DayReplacer(table, ctx.days, ctx.snapshot_properties(RAW_EVENTS.name))
    ingested_at = pa.scalar(datetime.now(timezone.utc), pa.timestamp("us", tz="UTC"))
    files = landed_files(settings)
    lines_read = 0
    for landed in files:
        with local_copy(settings, landed) as local:
            lines_read += _land_file(ctx, replacer, wanted, ingested_at, local, landed)

    # Rows the streaming job landed are not this step's to replace: carry them over, so
    # re-materializing bronze for a day the stream fed (a backfill from the UI) loses nothing.
    carried = 0
    for day in ctx.days:
        streamed = table.scan(row_filter=And(EqualTo("event_date", day.isoformat()), EqualTo("source", "kinesis"))).to_arrow()
        if streamed.num_rows:
            replacer.write(streamed)
            carried += streamed.num_rows
    snapshots = replacer.commit()
    rows_by_day = {d.isoformat(): replacer.rows(d) for d in ctx.days}
    return StepResult(
        metadata={
            RAW_EVENTS.name: {
                "rows": sum(rows_by_day.values()),
                "rows_by_day": rows_by_day,
                "files": [f.name for f in files],
                "lines_scanned": lines_read,
                "stream_rows_kept": carried,
                "snapshots": {d.isoformat(): s for d, s in snapshots.items()},
                "table": RAW_EVENTS.identifier,
                "location": table.location(),
                "seconds": round(time.monotonic() - started, 3),
            }
        }
    )

