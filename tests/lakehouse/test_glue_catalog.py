"""In aws mode the catalog is pyiceberg's GlueCatalog over the S3 warehouse (against the session's moto server)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pyarrow as pa

from authpulse_dagster.aws import aws_client
from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.lakehouse.schemas import USER_HOST_DAILY
from authpulse_dagster.lakehouse.tables import arrow_schema, ensure_table, replace_days
from tests.fixtures.aws_mode import AwsMode, aws_mode  # noqa: F401


def test_glue_catalog_creates_reads_and_replaces_a_day(aws_mode: AwsMode) -> None:
    settings = aws_mode.settings
    catalog = load_catalog(settings)
    assert type(catalog).__name__ == "GlueCatalog"
    glue = aws_client("glue", settings)
    assert glue.get_database(Name="authpulse")["Database"]["Name"] == "authpulse"
    load_catalog(settings)  # idempotent: the namespace exists already

    table = ensure_table(catalog, USER_HOST_DAILY)
    assert table.location() == f"s3://{aws_mode.buckets['warehouse']}/warehouse/authpulse.db/{USER_HOST_DAILY.name}"
    params = glue.get_table(DatabaseName="authpulse", Name=USER_HOST_DAILY.name)["Table"]["Parameters"]
    assert params["table_type"].upper() == "ICEBERG"
    assert params["metadata_location"].startswith(f"s3://{aws_mode.buckets['warehouse']}/")

    day = date(2024, 1, 2)
    ts = datetime(2024, 1, 2, 9, tzinfo=timezone.utc)
    data = pa.Table.from_pylist(
        [
            {"user_id": "U1", "computer_id": "C1", "event_date": day, "events": 3, "first_seen": ts, "last_seen": ts},
            {"user_id": "U2", "computer_id": "C7", "event_date": day, "events": 1, "first_seen": ts, "last_seen": ts},
        ],
        schema=arrow_schema(table),
    )
    snapshots = replace_days(table, data, [day], {"authpulse.dagster_run_id": "test"})

    reloaded = load_catalog(settings).load_table(USER_HOST_DAILY.identifier)
    assert reloaded.current_snapshot().snapshot_id == snapshots[day]
    assert sorted(reloaded.scan().to_arrow().column("user_id").to_pylist()) == ["U1", "U2"]
    objects = aws_client("s3", settings).list_objects_v2(Bucket=aws_mode.buckets["warehouse"], Prefix="warehouse/")
    assert any(o["Key"].endswith(".parquet") for o in objects["Contents"])
