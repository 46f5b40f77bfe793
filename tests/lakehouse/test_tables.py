"""Iceberg tables through pyiceberg: creation, evolution, day-atomic replacement, time travel."""

from datetime import date, datetime, timezone

import pyarrow as pa
import pytest
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from authpulse_dagster.lakehouse.schemas import TABLES, USER_HOST_DAILY, TableDef
from authpulse_dagster.lakehouse.spark_io import read_table
from authpulse_dagster.lakehouse.tables import (
    DayReplacer,
    count_rows,
    days_filter,
    ensure_table,
    partition_summary,
    replace_days,
)

D1, D2 = date(2024, 1, 1), date(2024, 1, 2)
TS = datetime(2024, 1, 1, tzinfo=timezone.utc)


def pairs(rows):
    return pa.table(
        {
            "user_id": [r[0] for r in rows],
            "computer_id": [r[1] for r in rows],
            "event_date": pa.array([r[2] for r in rows], pa.date32()),
            "events": pa.array([r[3] for r in rows], pa.int64()),
            "first_seen": pa.array([TS] * len(rows), pa.timestamp("us", tz="UTC")),
            "last_seen": pa.array([TS] * len(rows), pa.timestamp("us", tz="UTC")),
        }
    )


def test_all_tables_are_created_partitioned_by_day(catalog):
    for table_def in TABLES.values():
        table = ensure_table(catalog, table_def)
        assert [f.name for f in table.spec().fields] == ["event_date"]
        assert all(f.doc for f in table.schema().fields), table_def.name


def test_replacing_a_day_is_one_snapshot_and_leaves_other_days(catalog):
    table = ensure_table(catalog, USER_HOST_DAILY)
    replace_days(table, pairs([("U1", "C1", D1, 1), ("U2", "C1", D2, 2)]), [D1, D2], {"authpulse.dagster_run_id": "r1"})
    before = len(table.snapshots())
    replace_days(table, pairs([("U9", "C9", D1, 5)]), [D1], {"authpulse.dagster_run_id": "r2"})
    table.refresh()
    assert len(table.snapshots()) == before + 1
    snap = table.current_snapshot()
    assert snap.summary.operation.value == "overwrite"
    assert snap.summary["authpulse.dagster_run_id"] == "r2"
    assert snap.summary["authpulse.partition"] == "2024-01-01"
    rows = table.scan().to_arrow().sort_by("user_id").to_pylist()
    assert [(r["user_id"], r["event_date"]) for r in rows] == [("U2", D2), ("U9", D1)]


def test_day_with_no_new_rows_is_emptied(catalog):
    table = ensure_table(catalog, USER_HOST_DAILY)
    replace_days(table, pairs([("U1", "C1", D1, 1)]), [D1], {})
    replace_days(table, pairs([]), [D1], {})
    assert count_rows(table) == 0


def test_rows_outside_the_days_are_refused(catalog):
    table = ensure_table(catalog, USER_HOST_DAILY)
    with pytest.raises(ValueError, match="outside the days"):
        DayReplacer(table, [D1], {}).write(pairs([("U1", "C1", D2, 1)]))


def test_partition_summary_finds_the_newest_commit_of_a_day(catalog):
    table = ensure_table(catalog, USER_HOST_DAILY)
    r = DayReplacer(table, [D1, D2], {"authpulse.dagster_run_id": "a"})
    r.write(pairs([("U1", "C1", D1, 1), ("U2", "C2", D2, 1)]))
    r.commit({D1: {"authpulse.duplicates": 3}})
    replace_days(table, pairs([("U3", "C3", D2, 1)]), [D2], {"authpulse.dagster_run_id": "b"})
    table.refresh()
    assert partition_summary(table, D1)["authpulse.duplicates"] == "3"
    assert partition_summary(table, D2)["authpulse.dagster_run_id"] == "b"
    assert partition_summary(table, date(2030, 1, 1)) is None


def test_schema_evolution_adds_a_column_and_old_files_read_as_null(catalog, spark):
    table = ensure_table(catalog, USER_HOST_DAILY)
    replace_days(table, pairs([("U1", "C1", D1, 1)]), [D1], {})
    evolved = TableDef(
        name=USER_HOST_DAILY.name,
        layer="gold",
        description=USER_HOST_DAILY.description,
        schema=Schema(
            *USER_HOST_DAILY.schema.fields,
            NestedField(field_id=7, name="note", field_type=StringType(), required=False, doc="added later"),
        ),
        sort_by=USER_HOST_DAILY.sort_by,
    )
    table = ensure_table(catalog, evolved)
    assert table.schema().find_field("note").doc == "added later"
    assert table.schema().find_field("events").field_type == LongType()
    new = pairs([("U2", "C2", D2, 1)]).append_column("note", pa.array(["hi"]))
    replace_days(table, new, [D2], {})
    got = {r["user_id"]: r["note"] for r in read_table(spark, table).collect()}
    assert got == {"U1": None, "U2": "hi"}


def test_spark_reads_only_the_planned_partitions(catalog, spark):
    table = ensure_table(catalog, USER_HOST_DAILY)
    replace_days(table, pairs([("U1", "C1", D1, 1), ("U2", "C2", D2, 1)]), [D1, D2], {})
    df = read_table(spark, table, days_filter([D2]))
    assert [r["user_id"] for r in df.collect()] == ["U2"]
    assert all("event_date=2024-01-02" in f for f in df.inputFiles())
