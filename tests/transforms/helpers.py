"""Build bronze-shaped Spark rows from plain lines, for transform tests."""

from __future__ import annotations

from datetime import date, datetime, timezone

from pyspark.sql import DataFrame, SparkSession

BRONZE_DDL = (
    "event_id string, payload binary, payload_size bigint, source string, format string, source_file string, "
    "line_number bigint, dataset_time bigint, shard_id string, sequence_number string, arrival_ts timestamp, "
    "event_date date, ingested_at timestamp"
)
INGESTED = datetime(2024, 2, 1, tzinfo=timezone.utc)


def bronze_rows(spark: SparkSession, lines: list[bytes], fmt: str = "lanl2014", day: date = date(2024, 1, 1)) -> DataFrame:
    rows = [
        (f"id{i}", line, len(line), "file", fmt, "f.txt", i + 1, None, None, None, None, day, INGESTED)
        for i, line in enumerate(lines)
    ]
    return spark.createDataFrame(rows, BRONZE_DDL)
