"""Table maintenance with Iceberg's Spark procedures: compaction, snapshot expiry, orphan files, manifests.

A stream committing every few seconds to several tables, and batch steps
replacing whole days, leave many small files, snapshots and metadata files.
:func:`maintain` bounds that per table:

1. ``rewrite_data_files`` with the ``sort`` strategy (the table's sort order is
   kept) for partitions with several small files;
2. ``expire_snapshots`` older than the retention, always keeping the newest
   ``retain_last``: time travel works within the retention, and the streaming
   sink's exactly-once check (the newest snapshots carrying its batch ids) is
   never expired while the stream is alive;
3. ``remove_orphan_files`` older than ``orphan_age`` (files no snapshot
   references: failed writes; older than any write still in flight);
4. ``rewrite_manifests``.

Table properties set at creation (``spark_tables.TABLE_PROPERTIES``) bound the
metadata.json history. Figures before and after are measured on storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from authpulse_dagster.lakehouse import spark_tables
from authpulse_dagster.lakehouse.schemas import NAMESPACE, TableDef
from authpulse_dagster.lakehouse.spark_catalog import SPARK_CATALOG, table_name


@dataclass(frozen=True)
class MaintenancePolicy:
    snapshot_retention: timedelta = timedelta(days=5)
    retain_last: int = 50
    orphan_age: timedelta = timedelta(days=1)
    # Compact a partition once it holds at least this many files.
    min_input_files: int = 5
    target_file_bytes: int = 128 * 1024 * 1024


def table_figures(spark: SparkSession, table_def: TableDef) -> dict[str, int]:
    """Data files, snapshots, manifests and bytes on storage of one table, now."""
    name = spark_tables.ensure_table(spark, table_def)
    files = spark.table(f"{name}.files").agg(F.count(F.lit(1)).alias("n"), F.sum("file_size_in_bytes").alias("b")).first()
    snapshots = spark.table(f"{name}.snapshots").count()
    manifests = spark.table(f"{name}.manifests").count()
    location = spark.sql(f"DESCRIBE TABLE EXTENDED {name}").where(F.col("col_name") == "Location").first()["data_type"]
    return {
        "data_files": int(files["n"]),
        "data_bytes": int(files["b"] or 0),
        "snapshots": int(snapshots),
        "manifests": int(manifests),
        "metadata_bytes": _bytes_under(spark, f"{location}/metadata"),
        "storage_bytes": _bytes_under(spark, location),
    }


def _bytes_under(spark: SparkSession, location: str) -> int:
    """Bytes under a location through Hadoop's FileSystem (local disk here, S3 on EMR)."""
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(location)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
    return int(fs.getContentSummary(path).getLength()) if fs.exists(path) else 0


def maintain(spark: SparkSession, table_def: TableDef, policy: MaintenancePolicy = MaintenancePolicy(),
             now: datetime | None = None) -> dict[str, Any]:
    """Run the four procedures on one table; return figures before and after and what each did."""
    now = now or datetime.now(timezone.utc)
    name = spark_tables.ensure_table(spark, table_def)
    ident = table_name(table_def.name)  # catalog-qualified: "authpulse.x" alone would read as catalog.table
    call = f"CALL {SPARK_CATALOG}.system"
    before = table_figures(spark, table_def)
    rewrite = spark.sql(
        f"{call}.rewrite_data_files(table => '{ident}', strategy => 'sort', "
        f"options => map('min-input-files', '{policy.min_input_files}', 'target-file-size-bytes', '{policy.target_file_bytes}', "
        "'partial-progress.enabled', 'true'))"
    ).first()
    expire_before = _ts(now - policy.snapshot_retention)
    expired = spark.sql(
        f"{call}.expire_snapshots(table => '{ident}', older_than => TIMESTAMP '{expire_before}', retain_last => {policy.retain_last})"
    ).first()
    orphans = spark.sql(
        f"{call}.remove_orphan_files(table => '{ident}', older_than => TIMESTAMP '{_ts(now - policy.orphan_age)}')"
    ).count()
    manifests = spark.sql(f"{call}.rewrite_manifests('{ident}')").first()
    after = table_figures(spark, table_def)
    return {
        "table": table_name(table_def.name),
        "before": before,
        "after": after,
        "rewritten_data_files": int(rewrite["rewritten_data_files_count"]),
        "added_data_files": int(rewrite["added_data_files_count"]),
        "expired_snapshots": before["snapshots"] - after["snapshots"],
        "expired_files_deleted": {k: int(v or 0) for k, v in expired.asDict().items()},
        "orphan_files_removed": int(orphans),
        "rewritten_manifests": int(manifests["rewritten_manifests_count"]),
    }


def _ts(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
