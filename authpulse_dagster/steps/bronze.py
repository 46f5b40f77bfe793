"""Bronze ingest from files: every line of every landed file into ``raw_events``.

Files are landed as ``$AUTHPULSE_HOME/landing/<format>/<name>`` (plain, .gz
or .bz2; an S3 prefix in AWS mode). Each line is filed under a day: the day of
its own time field when that is a valid dataset time, otherwise the day of
the last valid line before it in the same file (or of the first valid line
after it, for lines at the top of a file; or day 0 of the dataset when the
file has no valid line). So every line belongs to exactly one partition and
nothing is dropped: lines the parser later rejects still reach the quarantine
through their bronze day.

gzip is not splittable, and line numbers and the day rule need a file read in
order, so each file is read by ONE reader, but on an executor: the files are
spread over Spark tasks (``mapInArrow``), each task streams its file in
bounded Arrow batches, and Iceberg's writer takes them from there. The driver
only lists the files and commits. Rows the streaming job landed live in their
own partitions (``source = 'kinesis'``) and are never replaced here.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import functions as F

from authpulse_dagster.lakehouse.raw_zone import LandedFile, landed_files, local_copy
from authpulse_dagster.lakehouse.schemas import RAW_EVENTS
from authpulse_dagster.lakehouse.spark_tables import arrow_schema, spark_ddl
from authpulse_dagster.lanl.days import day_number, iter_with_days
from authpulse_dagster.lanl.readers import iter_batches
from authpulse_dagster.settings import Settings
from authpulse_dagster.steps.context import StepContext, StepResult
from authpulse_dagster.steps.io import result, write_days

FILE_SOURCE = "file"


def file_rows(settings: Settings, landed: LandedFile, wanted: set[int], ingested_at: datetime) -> Iterator[pa.RecordBatch]:
    """The bronze rows of one landed file that fall on the wanted days, in bounded batches."""
    schema = arrow_schema(RAW_EVENTS)
    stamp = pa.scalar(ingested_at, pa.timestamp("us", tz="UTC"))
    wanted_days = np.fromiter(wanted, dtype=np.int64)
    with local_copy(settings, landed) as local:
        batches = iter_batches(local, landed.fmt, max_dataset_seconds=settings.max_dataset_seconds)
        for rows, day_numbers in iter_with_days(batches, settings.dataset_epoch):
            keep = np.isin(day_numbers, wanted_days)
            if not keep.any():
                continue
            selected = rows.filter(pa.array(keep))
            n = selected.num_rows
            yield from pa.table(
                {
                    "event_id": selected.column("event_id"),
                    "payload": selected.column("payload"),
                    "payload_size": selected.column("payload_size"),
                    "source": pa.repeat(pa.scalar(FILE_SOURCE, pa.string()), n),
                    "format": pa.repeat(pa.scalar(landed.fmt, pa.string()), n),
                    "source_file": pa.repeat(pa.scalar(landed.name, pa.string()), n),
                    "line_number": selected.column("line_number"),
                    "dataset_time": selected.column("dataset_time"),
                    "shard_id": pa.nulls(n, pa.string()),
                    "sequence_number": pa.nulls(n, pa.string()),
                    "arrival_ts": pa.nulls(n, pa.timestamp("us", tz="UTC")),
                    "event_date": pa.array(day_numbers[keep].astype(np.int32), pa.int32()).cast(pa.date32()),
                    "ingested_at": pa.repeat(stamp, n),
                }
            ).cast(schema).to_batches()


def run(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    settings = ctx.settings
    files = landed_files(settings)
    wanted = {day_number(d) for d in ctx.days}
    ingested_at = datetime.now(timezone.utc)

    def read_files(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for index in batch.column("index").to_pylist():
                yield from file_rows(settings, files[index], wanted, ingested_at)

    # One task per file, so files are read in parallel and each by a single reader.
    spark = ctx.spark
    indexes = spark.createDataFrame([(i,) for i in range(len(files))], "index int").repartition(max(len(files), 1), "index")
    rows = indexes.mapInArrow(read_files, spark_ddl(RAW_EVENTS))
    written = write_days(ctx, RAW_EVENTS, rows, only=F.col("source") == F.lit(FILE_SOURCE))
    return result(RAW_EVENTS, written, started, files=[f.name for f in files])
