"""Moving Iceberg data into and out of Spark.

Reads: pyiceberg plans the files, Spark's executors read the Parquet in
parallel (nothing passes through the driver). Writes: one day's rows come to
the driver as Arrow and are committed by pyiceberg (see ``tables.DayReplacer``);
the batch benchmark measures the memory that costs.
"""

from __future__ import annotations

from datetime import date
from typing import Iterable

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
    per_day_properties: dict[date, dict[str, object]] | None = None,
) -> dict[str, object]:
    """Replace ``days`` of ``table`` with ``df``, one day's Arrow batch on the driver at a time."""
    days = sorted(set(days))
    replacer = DayReplacer(table, days, snapshot_properties)
    cols = [f.name for f in arrow_schema(table)]
    ordered = df.select(*cols)
    if len(days) > 1:
        # Each day is a separate action; cache so the upstream plan runs once.
        ordered = ordered.persist()
    for day in days:
        part = ordered.where(F.col("event_date") == F.lit(day))
        if sort_by:
            part = part.orderBy(*sort_by)
        replacer.write(part.toArrow())
    snapshots = replacer.commit(per_day_properties)
    if len(days) > 1:
        ordered.unpersist()
    return {
        "rows": sum(replacer.rows(d) for d in days),
        "rows_by_day": {d.isoformat(): replacer.rows(d) for d in days},
        "snapshots": {d.isoformat(): s for d, s in snapshots.items()},
    }
