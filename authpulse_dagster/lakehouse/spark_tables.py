"""Creating, reading and writing AuthPulse's Iceberg tables from Spark.

Every write goes through Iceberg's own Spark writer: executors write the
Parquet files in parallel and the driver only commits metadata, so no table
data passes through the driver.

- **Day replacement** (every batch step): ``overwrite(event_date IN days)``
  swaps all of a step's days in ONE snapshot: a reader sees the old days or
  the new ones, never half; a day the source lost all rows for is emptied.
- **Appends** (the streaming job, the delivery ledger): ``append()``.
- Every snapshot summary carries the caller's properties (Dagster run id,
  asset partition) through Iceberg's ``snapshot-property.*`` write options,
  plus a write id the step uses to find its own snapshot afterwards.

Table definitions stay in ``schemas.py``; here they become Spark DDL.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Iterable, Mapping

import pyarrow as pa
from pyiceberg import types as it
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from authpulse_dagster.lakehouse.schemas import TableDef
from authpulse_dagster.lakehouse.spark_catalog import table_name

WRITE_ID = "authpulse.write_id"

# Bounded metadata growth and a writer that plays well with a concurrent stream.
TABLE_PROPERTIES = {
    "format-version": "2",
    # Shuffle rows by partition, then sort each task's rows by the table's sort order:
    # one well-sorted file per day per write instead of one per input task.
    "write.distribution-mode": "hash",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
    # A batch step and the stream can commit to one table at once; retry on conflict.
    "commit.retry.num-retries": "10",
    "commit.retry.min-wait-ms": "200",
}


def spark_type(t: it.IcebergType) -> str:
    """The Spark SQL type of an Iceberg type used in ``schemas.py``."""
    simple = {
        it.StringType: "string", it.BinaryType: "binary", it.LongType: "bigint", it.IntegerType: "int",
        it.DateType: "date", it.TimestamptzType: "timestamp", it.DoubleType: "double", it.BooleanType: "boolean",
    }
    for cls, name in simple.items():
        if isinstance(t, cls):
            return name
    if isinstance(t, it.ListType):
        return f"array<{spark_type(t.element_type)}>"
    raise TypeError(f"no Spark type for {t}")


def _column_ddl(field: it.NestedField) -> str:
    not_null = " NOT NULL" if field.required else ""
    comment = (field.doc or "").replace("'", "\\'")
    return f"`{field.name}` {spark_type(field.field_type)}{not_null} COMMENT '{comment}'"


def create_table_sql(table_def: TableDef) -> str:
    columns = ",\n  ".join(_column_ddl(f) for f in table_def.schema.fields)
    props = {**TABLE_PROPERTIES, "comment": table_def.description}
    tbl_props = ", ".join(f"'{k}'='{v.replace(chr(39), chr(92) + chr(39))}'" for k, v in props.items())
    partitions = ", ".join(table_def.partition_by)
    return (
        f"CREATE TABLE IF NOT EXISTS {table_name(table_def.name)} (\n  {columns}\n) USING iceberg "
        f"PARTITIONED BY ({partitions}) TBLPROPERTIES ({tbl_props})"
    )


_ensured: set[tuple[str, str]] = set()


def ensure_table(spark: SparkSession, table_def: TableDef) -> str:
    """Create the table on first use, add any columns the definition gained; return its Spark name.

    Checked once per table and catalog location in a process: the DDL round trip
    is not free, and within a process only this code changes table schemas.
    """
    name = table_name(table_def.name)
    key = (_catalog_location(spark), name)
    if key in _ensured:
        return name
    if not spark.catalog.tableExists(name):
        spark.sql(create_table_sql(table_def))
        if table_def.sort_by:
            spark.sql(f"ALTER TABLE {name} WRITE ORDERED BY {', '.join(table_def.sort_by)}")
    existing = {f.name for f in spark.table(name).schema.fields}
    for field in table_def.schema.fields:
        if field.name not in existing:
            # Added columns are optional in Iceberg: older files read them as null.
            comment = (field.doc or "").replace("'", "\\'")
            spark.sql(f"ALTER TABLE {name} ADD COLUMN `{field.name}` {spark_type(field.field_type)} COMMENT '{comment}'")
    _ensured.add(key)
    return name


def _catalog_location(spark: SparkSession) -> str:
    prefix = "spark.sql.catalog.authpulse"
    return f"{spark.conf.get(prefix + '.uri', '')}|{spark.conf.get(prefix + '.warehouse', '')}"


def forget_ensured() -> None:
    """For tests that drop tables behind this module's back."""
    _ensured.clear()


def read_days(spark: SparkSession, table_def: TableDef, first: date, last: date) -> DataFrame:
    """The table's rows for ``first``..``last`` (Iceberg prunes the other day partitions)."""
    name = ensure_table(spark, table_def)
    return spark.table(name).where(F.col("event_date").between(F.lit(first), F.lit(last)))


def read_all(spark: SparkSession, table_def: TableDef) -> DataFrame:
    return spark.table(ensure_table(spark, table_def))


def conform(df: DataFrame, table_def: TableDef) -> DataFrame:
    """The table's columns, in order, cast to its types (extra columns are dropped)."""
    missing = [c for c in table_def.column_names if c not in df.columns]
    if missing:
        raise ValueError(f"rows for {table_def.name} lack columns {missing}")
    return df.select(*[F.col(f.name).cast(spark_type(f.field_type)).alias(f.name) for f in table_def.schema.fields])


def _options(properties: Mapping[str, object], write_id: str) -> dict[str, str]:
    props = {**{k: str(v) for k, v in properties.items()}, WRITE_ID: write_id}
    return {f"snapshot-property.{k}": v for k, v in props.items()}


def replace_days(
    df: DataFrame,
    table_def: TableDef,
    days: Iterable[date],
    snapshot_properties: Mapping[str, object],
    only: Column | None = None,
) -> dict[str, object]:
    """Replace ``days`` of the table with ``df`` in one snapshot; return counts and the snapshot id.

    ``only`` narrows what is replaced within those days (it must follow the
    partitioning, e.g. bronze's ``source = 'file'``): rows outside it stay.
    Rows of ``df`` outside the days are refused, as a day they would silently
    add to could never be replaced consistently.
    """
    days = sorted(set(days))
    if not days:
        raise ValueError("replace_days needs at least one day")
    spark = df.sparkSession
    name = ensure_table(spark, table_def)
    in_days = F.col("event_date").isin(days)
    condition = in_days if only is None else in_days & only
    write_id = uuid.uuid4().hex
    props = {**snapshot_properties, "authpulse.partition": _span(days)}
    guarded = conform(df, table_def).where(
        F.when(in_days, F.lit(True)).otherwise(
            F.raise_error(F.concat(F.lit(f"a row for {table_def.name} falls outside the days being replaced: "), F.col("event_date").cast("string")))
        )
    )
    guarded.writeTo(name).options(**_options(props, write_id)).overwrite(condition)
    by_day = rows_by_day(spark, table_def, days)
    return {"rows": sum(by_day.values()), "rows_by_day": by_day, "snapshot_id": snapshot_of(spark, table_def, write_id)}


def append(df: DataFrame, table_def: TableDef, snapshot_properties: Mapping[str, object]) -> int | None:
    """Append ``df`` in one snapshot; returns the snapshot id (None when there was nothing to add)."""
    spark = df.sparkSession
    name = ensure_table(spark, table_def)
    write_id = uuid.uuid4().hex
    conform(df, table_def).writeTo(name).options(**_options(snapshot_properties, write_id)).append()
    return snapshot_of(spark, table_def, write_id)


def rows_by_day(spark: SparkSession, table_def: TableDef, days: Iterable[date]) -> dict[str, int]:
    """Rows per day in the current snapshot, from Iceberg's metadata (no data file is read)."""
    days = sorted(set(days))
    name = ensure_table(spark, table_def)
    counts = (
        spark.table(f"{name}.partitions")
        .where(F.col("partition.event_date").isin(days))
        .groupBy(F.col("partition.event_date").alias("d"))
        .agg(F.sum("record_count").alias("n"))
        .collect()
    )
    found = {r["d"]: int(r["n"]) for r in counts}
    return {d.isoformat(): found.get(d, 0) for d in days}


def snapshot_of(spark: SparkSession, table_def: TableDef, write_id: str) -> int | None:
    """The snapshot a write with ``write_id`` committed (None if it committed nothing)."""
    rows = (
        spark.table(f"{table_name(table_def.name)}.snapshots")
        .where(F.col("summary").getItem(WRITE_ID) == write_id)
        .select("snapshot_id")
        .collect()
    )
    return int(rows[0]["snapshot_id"]) if rows else None


def snapshot_summaries(spark: SparkSession, table_def: TableDef, where: Column | None = None) -> list[dict[str, object]]:
    """Snapshots of the table, newest first: id, parent, time, operation and summary."""
    df = spark.table(f"{ensure_table(spark, table_def)}.snapshots")
    if where is not None:
        df = df.where(where)
    rows = df.orderBy(F.col("committed_at").desc()).collect()
    return [
        {"snapshot_id": r["snapshot_id"], "parent_id": r["parent_id"], "committed_at": r["committed_at"],
         "operation": r["operation"], "summary": dict(r["summary"] or {})}
        for r in rows
    ]


def _span(days: list[date]) -> str:
    return days[0].isoformat() if len(days) == 1 else f"{days[0].isoformat()}...{days[-1].isoformat()}"


def summary_json(value: Mapping[str, object]) -> str:
    """A mapping as a snapshot-summary value (summaries hold strings only)."""
    return json.dumps(value, sort_keys=True, default=str)


def spark_ddl(table_def: TableDef) -> str:
    """The table's columns as a Spark DDL schema string (for ``mapInArrow`` and friends)."""
    return ", ".join(f"`{f.name}` {spark_type(f.field_type)}" for f in table_def.schema.fields)


def arrow_type(t: it.IcebergType) -> pa.DataType:
    """The Arrow type Spark expects for an Iceberg type (plain, not large, strings and binaries)."""
    simple = {
        it.StringType: pa.string(), it.BinaryType: pa.binary(), it.LongType: pa.int64(), it.IntegerType: pa.int32(),
        it.DateType: pa.date32(), it.TimestamptzType: pa.timestamp("us", tz="UTC"), it.DoubleType: pa.float64(),
        it.BooleanType: pa.bool_(),
    }
    for cls, arrow in simple.items():
        if isinstance(t, cls):
            return arrow
    if isinstance(t, it.ListType):
        return pa.list_(arrow_type(t.element_type))
    raise TypeError(f"no Arrow type for {t}")


def arrow_schema(table_def: TableDef) -> pa.Schema:
    """The table's Arrow schema as Spark's Arrow exchange expects it (``mapInArrow``, ``createDataFrame``)."""
    return pa.schema([pa.field(f.name, arrow_type(f.field_type)) for f in table_def.schema.fields])


def dataframe(spark: SparkSession, table_def: TableDef, rows: "pa.Table | list[dict]") -> DataFrame:
    """Small driver-side rows (a ledger entry, test fixtures) as a DataFrame with the table's schema."""
    schema = arrow_schema(table_def)
    data = pa.Table.from_pylist(rows, schema=schema) if isinstance(rows, list) else rows.select(schema.names).cast(schema)
    if data.num_rows == 0:
        return spark.createDataFrame([], spark_ddl(table_def))
    return spark.createDataFrame(data, schema=spark_ddl(table_def))


def added_records(spark: SparkSession, table_def: TableDef, snapshot_id: int | None) -> int:
    """Rows a snapshot added, from its summary (0 for none)."""
    if snapshot_id is None:
        return 0
    rows = spark.table(f"{table_name(table_def.name)}.snapshots").where(F.col("snapshot_id") == snapshot_id).collect()
    return int((rows[0]["summary"] or {}).get("added-records", 0)) if rows else 0
