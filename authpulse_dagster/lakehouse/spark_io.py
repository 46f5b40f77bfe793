"""Moving Iceberg data into and out of Spark.

Reads: pyiceberg plans the files, Spark's executors read the Parquet in
parallel (nothing passes through the driver). Writes: one day's rows come to
the driver as Arrow and are committed by pyiceberg (see ``tables.DayReplacer``);
the batch benchmark measures the memory that costs.
"""

from __future__ import annotations

from datetime import date
from typing import Callable, Iterable, Mapping

from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.table import Table
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from authpulse_dagster.lakehouse.tables import DayReplacer, arrow_schema, data_file_paths


def read_table(spark: SparkSession, table: Table, row_filter: BooleanExpression = AlwaysTrue()) -> DataFrame:
    """A Spark DataFrame over the table's current snapshot, pruned to ``row_filter``'s partitions.

    Columns are matched by name with the current schema, so files written
    before a column was added read that column as null.
    """
    schema = from_arrow_schema(arrow_schema(table))
    paths = data_file_paths(table, row_filter)
    if not paths:
        return spark.createDataFrame([], schema)
    return spark.read.schema(schema).parquet(*paths)


def write_days(
    df: DataFrame,
    table: Table,
    days: Iterable[date],
    snapshot_properties: dict[str, str],
    sort_by: Iterable[str] = (),
    per_day_properties: Callable[[date, int], Mapping[str, object]] | None = None,
) -> dict[str, object]:
    """Replace ``days`` of ``table`` with ``df``, one day's Arrow batch on the driver at a time.

    ``per_day_properties(day, rows_written)`` adds snapshot summary entries for a day.
    Sorting happens in Arrow on the driver: the day is there anyway, and a
    Spark ``orderBy`` would cost two jobs per day (sample, then sort).
    """
    days = sorted(set(days))
    replacer = DayReplacer(table, days, snapshot_properties)
    cols = [f.name for f in arrow_schema(table)]
    ordered = df.select(*cols)
    if len(days) > 1:
        # Each day is a separate action; cache so the upstream plan runs once.
        ordered = ordered.persist()
    sort_keys = [(c, "ascending") for c in sort_by]
    for day in days:
        part = ordered.where(F.col("event_date") == F.lit(day)).toArrow()
        replacer.write(part.sort_by(sort_keys) if sort_keys and part.num_rows else part)
    extra = {d: per_day_properties(d, replacer.rows(d)) for d in days} if per_day_properties else None
    snapshots = replacer.commit(extra)
    if len(days) > 1:
        ordered.unpersist()
    return {
        "rows": sum(replacer.rows(d) for d in days),
        "rows_by_day": {d.isoformat(): replacer.rows(d) for d in days},
        "snapshots": {d.isoformat(): s for d, s in snapshots.items()},
    }
