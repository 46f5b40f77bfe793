"""In aws mode Spark writes through Iceberg's GlueCatalog + S3FileIO and pyiceberg's GlueCatalog reads (moto server)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from authpulse_dagster.aws import aws_client
from authpulse_dagster.lakehouse import spark_tables
from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.lakehouse.schemas import USER_HOST_DAILY
from authpulse_dagster.spark import get_spark
from tests.fixtures.aws_mode import AwsMode, aws_mode, share_credentials_with_jvm  # noqa: F401


def test_spark_writes_a_glue_table_on_s3_that_pyiceberg_reads(aws_mode: AwsMode, spark) -> None:
    settings = aws_mode.settings
    share_credentials_with_jvm(spark)
    spark = get_spark(settings)
    day = date(2024, 1, 2)
    ts = datetime(2024, 1, 2, 9, tzinfo=timezone.utc)
    rows = [
        {"user_id": "U1", "computer_id": "C1", "event_date": day, "events": 3, "first_seen": ts, "last_seen": ts},
        {"user_id": "U2", "computer_id": "C7", "event_date": day, "events": 1, "first_seen": ts, "last_seen": ts},
    ]
    written = spark_tables.replace_days(spark_tables.dataframe(spark, USER_HOST_DAILY, rows), USER_HOST_DAILY, [day],
                                        {"authpulse.dagster_run_id": "test"})

    glue = aws_client("glue", settings)
    params = glue.get_table(DatabaseName="authpulse", Name=USER_HOST_DAILY.name)["Table"]["Parameters"]
    assert params["table_type"].upper() == "ICEBERG"
    assert params["metadata_location"].startswith(f"s3://{aws_mode.buckets['warehouse']}/warehouse/")

    catalog = load_catalog(settings)
    assert type(catalog).__name__ == "GlueCatalog"
    table = catalog.load_table(USER_HOST_DAILY.identifier)
    assert table.current_snapshot().snapshot_id == written["snapshot_id"]
    assert table.current_snapshot().summary["authpulse.dagster_run_id"] == "test"
    assert sorted(table.scan().to_arrow().column("user_id").to_pylist()) == ["U1", "U2"]
    objects = aws_client("s3", settings).list_objects_v2(Bucket=aws_mode.buckets["warehouse"], Prefix="warehouse/")
    assert any(o["Key"].endswith(".parquet") for o in objects["Contents"])


def test_reading_creates_nothing_in_glue(aws_mode: AwsMode) -> None:
    """Sensors and the API only read: opening the catalog must not need glue:CreateDatabase (issue 13, blocker 1)."""
    glue = aws_client("glue", aws_mode.settings)
    glue.delete_database(Name="authpulse")
    load_catalog(aws_mode.settings)
    assert "authpulse" not in {d["Name"] for d in glue.get_databases()["DatabaseList"]}
    with pytest.raises(Exception):
        load_catalog(aws_mode.settings).load_table(USER_HOST_DAILY.identifier)
