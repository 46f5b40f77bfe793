"""Exactly-once appends from a streaming job into Iceberg.

Every commit a stream makes carries its stream id and micro-batch id in the
snapshot summary. Before appending batch B to a table, the sink looks for
that stream's newest commit on the table: if it is B or later, the batch was
already written (Spark is replaying it after a crash) and is skipped. Spark
replays a batch with exactly the same records, so "skip if present" gives
exactly-once per table whatever point the job was killed at.

The check needs the stream's newest snapshot on each table, which table
maintenance never expires (it keeps the newest snapshots, see
``lakehouse/maintenance.py``).
"""

from __future__ import annotations

from typing import Mapping

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from authpulse_dagster.lakehouse import spark_tables
from authpulse_dagster.lakehouse.schemas import TableDef

STREAM_ID = "authpulse.stream_id"
BATCH_ID = "authpulse.stream_batch_id"


def _stream_commits(spark: SparkSession, table_def: TableDef, stream_id: str) -> list[tuple[int, dict[str, str]]]:
    """(batch id, summary) of the stream's commits on the table, newest batch first."""
    mine = F.col("summary").getItem(STREAM_ID) == F.lit(stream_id)
    commits = spark_tables.snapshot_summaries(spark, table_def, where=mine)
    return sorted(((int(c["summary"][BATCH_ID]), c["summary"]) for c in commits), key=lambda c: -c[0])


def last_committed_batch(spark: SparkSession, table_def: TableDef, stream_id: str) -> int | None:
    commits = _stream_commits(spark, table_def, stream_id)
    return commits[0][0] if commits else None


def summary_before(spark: SparkSession, table_def: TableDef, stream_id: str, batch_id: int) -> dict[str, str] | None:
    """The stream's newest commit summary from a batch before ``batch_id`` (state as the batch began)."""
    for committed, summary in _stream_commits(spark, table_def, stream_id):
        if committed < batch_id:
            return summary
    return None


WRITTEN, ALREADY = "written", "already committed"


def append_once(
    df: DataFrame, table_def: TableDef, stream_id: str, batch_id: int, properties: Mapping[str, object] | None = None
) -> tuple[str, int]:
    """Append ``df`` as batch ``batch_id`` unless that batch is already in the table.

    Returns (``WRITTEN`` or ``ALREADY``, rows added). An empty batch still
    commits (an empty snapshot), so the batch id and any state properties are
    recorded for the next batch.
    """
    spark = df.sparkSession
    last = last_committed_batch(spark, table_def, stream_id)
    if last is not None and last >= batch_id:
        return ALREADY, 0
    props = {STREAM_ID: stream_id, BATCH_ID: str(batch_id), **{k: str(v) for k, v in (properties or {}).items()}}
    snapshot_id = spark_tables.append(df, table_def, props)
    return WRITTEN, spark_tables.added_records(spark, table_def, snapshot_id)
