"""Iceberg tables written by Spark (Iceberg's own runtime), read by Spark, pyiceberg and DuckDB."""

import threading
from datetime import date, datetime, timezone

import duckdb
import pytest
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType
from pyspark.sql import functions as F

from authpulse_dagster.lakehouse import spark_tables
from authpulse_dagster.lakehouse.schemas import RAW_EVENTS, TABLES, USER_HOST_DAILY, TableDef
from authpulse_dagster.lakehouse.spark_catalog import table_name
from authpulse_dagster.lakehouse.tables import count_rows, days_filter, load_table

D1, D2, D3 = date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)
TS = datetime(2024, 1, 1, tzinfo=timezone.utc)


def pairs(spark, rows):
    data = [{"user_id": u, "computer_id": c, "event_date": d, "events": n, "first_seen": TS, "last_seen": TS} for u, c, d, n in rows]
    return spark_tables.dataframe(spark, USER_HOST_DAILY, data)


def _replace(spark, rows, days, run_id="r"):
    return spark_tables.replace_days(pairs(spark, rows), USER_HOST_DAILY, days, {"authpulse.dagster_run_id": run_id})


def test_all_tables_are_created_by_spark_partitioned_by_day_with_docs(settings, spark, catalog):
    for table_def in TABLES.values():
        spark_tables.ensure_table(spark, table_def)
        table = catalog.load_table(table_def.identifier)  # pyiceberg sees what Spark created
        assert [f.name for f in table.spec().fields] == list(table_def.partition_by)
        assert all(f.doc for f in table.schema().fields), table_def.name
        assert [f.name for f in table.schema().fields] == table_def.column_names
        assert table.properties["write.metadata.delete-after-commit.enabled"] == "true"
        if table_def.sort_by:
            assert [table.schema().find_field(f.source_id).name for f in table.sort_order().fields] == list(table_def.sort_by)
    assert RAW_EVENTS.partition_by == ("event_date", "source")


def test_replacing_days_is_one_overwrite_snapshot_with_provenance_and_leaves_other_days(settings, spark, catalog):
    _replace(spark, [("U1", "C1", D1, 1), ("U2", "C1", D2, 2)], [D1, D2], "r1")
    before = len(catalog.load_table(USER_HOST_DAILY.identifier).snapshots())
    written = _replace(spark, [("U9", "C9", D1, 5)], [D1], "r2")
    table = catalog.load_table(USER_HOST_DAILY.identifier)
    assert len(table.snapshots()) == before + 1
    snap = table.current_snapshot()
    assert snap.snapshot_id == written["snapshot_id"]
    assert snap.summary.operation.value == "overwrite"
    assert snap.summary["authpulse.dagster_run_id"] == "r2"
    assert snap.summary["authpulse.partition"] == "2024-01-01"
    assert written["rows"] == 1 and written["rows_by_day"] == {"2024-01-01": 1}
    rows = table.scan().to_arrow().sort_by("user_id").to_pylist()
    assert [(r["user_id"], r["event_date"]) for r in rows] == [("U2", D2), ("U9", D1)]


def test_a_day_with_no_new_rows_is_emptied(settings, spark, catalog):
    _replace(spark, [("U1", "C1", D1, 1), ("U2", "C1", D2, 2)], [D1, D2])
    written = _replace(spark, [("U2", "C1", D2, 3)], [D1, D2])
    assert written["rows_by_day"] == {"2024-01-01": 0, "2024-01-02": 1}


def test_rows_outside_the_days_are_refused_and_nothing_changes(settings, spark, catalog):
    _replace(spark, [("U1", "C1", D1, 1)], [D1])
    before = catalog.load_table(USER_HOST_DAILY.identifier).current_snapshot().snapshot_id
    with pytest.raises(Exception, match="falls outside the days being replaced"):
        _replace(spark, [("U1", "C1", D1, 1), ("U5", "C5", D3, 1)], [D1])
    assert catalog.load_table(USER_HOST_DAILY.identifier).current_snapshot().snapshot_id == before


def test_only_narrows_the_replacement_to_a_partition_column(settings, spark, catalog):
    def raw(source, n, line):
        return {"event_id": f"{source}{line}", "payload": b"1,U1,C1", "payload_size": 7, "source": source, "format": "lanl2014",
                "line_number": line, "event_date": D1, "ingested_at": TS, "source_file": None, "dataset_time": 1,
                "shard_id": None, "sequence_number": None, "arrival_ts": None}

    spark_tables.append(spark_tables.dataframe(spark, RAW_EVENTS, [raw("kinesis", 1, 1)]), RAW_EVENTS, {})
    for line in (1, 2):  # re-ingesting the file twice replaces the file rows only
        df = spark_tables.dataframe(spark, RAW_EVENTS, [raw("file", 1, line)])
        spark_tables.replace_days(df, RAW_EVENTS, [D1], {}, only=F.col("source") == "file")
    rows = sorted(r["event_id"] for r in spark.table(table_name("raw_events")).collect())
    assert rows == ["file2", "kinesis1"]


def test_spark_pyiceberg_and_duckdb_read_the_same_rows_and_snapshot(settings, spark, catalog):
    written = _replace(spark, [("U1", "C1", D1, 1), ("U2", "C2", D1, 2), ("U3", "C3", D2, 3)], [D1, D2])
    spark_rows = sorted((r.user_id, r.events) for r in spark.table(table_name(USER_HOST_DAILY.name)).collect())
    spark_snapshot = spark.sql(f"SELECT snapshot_id FROM {table_name(USER_HOST_DAILY.name)}.snapshots ORDER BY committed_at DESC LIMIT 1").first()[0]

    table = catalog.load_table(USER_HOST_DAILY.identifier)
    py_rows = sorted(zip(*[table.scan().to_arrow()[c].to_pylist() for c in ("user_id", "events")]))
    # DuckDB reads the files pyiceberg plans for the snapshot (its iceberg extension is not installable here).
    con = duckdb.connect()
    duck_rows = sorted(con.execute("SELECT user_id, events FROM read_parquet(?)", [_files(table)]).fetchall())

    assert spark_rows == py_rows == duck_rows == [("U1", 1), ("U2", 2), ("U3", 3)]
    assert spark_snapshot == table.current_snapshot().snapshot_id == written["snapshot_id"]
    assert count_rows(table, days_filter([D1])) == 2


def _files(table):
    return [t.file.file_path.removeprefix("file://") for t in table.scan().plan_files()]


def test_a_reader_polling_while_spark_commits_always_sees_a_whole_snapshot(settings, spark, catalog):
    """Spark commits through JDBC while pyiceberg reads the same SQLite file: every read is one consistent state."""
    _replace(spark, [("U1", "C1", D1, 1), ("U2", "C2", D1, 1)], [D1])
    seen, errors, done = set(), [], threading.Event()

    def poll():
        from authpulse_dagster.lakehouse.catalog import load_catalog

        reader = load_catalog(settings)
        while not done.is_set():
            try:
                table = reader.load_table(USER_HOST_DAILY.identifier)
                seen.add(table.scan().to_arrow().num_rows)
            except Exception as exc:  # a torn read would surface here
                errors.append(exc)

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        for n in (3, 4, 5, 6):
            _replace(spark, [(f"U{i}", "C1", D1, 1) for i in range(n)], [D1])
    finally:
        done.set()
        thread.join()
    assert errors == []
    assert seen <= {2, 3, 4, 5, 6}  # only whole snapshots: never a mix of two commits
    assert catalog.load_table(USER_HOST_DAILY.identifier).scan().to_arrow().num_rows == 6


def test_time_travel_by_version_and_timestamp(settings, spark, catalog):
    first = _replace(spark, [("U1", "C1", D1, 1)], [D1])
    _replace(spark, [("U1", "C1", D1, 1), ("U2", "C1", D1, 1)], [D1])
    name = table_name(USER_HOST_DAILY.name)
    assert spark.sql(f"SELECT count(*) FROM {name} VERSION AS OF {first['snapshot_id']}").first()[0] == 1
    committed = spark.sql(f"SELECT committed_at FROM {name}.snapshots WHERE snapshot_id = {first['snapshot_id']}").first()[0]
    assert spark.sql(f"SELECT count(*) FROM {name} TIMESTAMP AS OF '{committed}'").first()[0] == 1
    assert spark.table(name).count() == 2


def test_schema_evolution_adds_a_column_and_old_files_read_as_null(settings, spark, catalog):
    v1 = TableDef("evolving", "gold", "test", Schema(
        NestedField(1, "user_id", StringType(), required=True, doc="u"),
        NestedField(2, "event_date", __import__("pyiceberg.types", fromlist=["DateType"]).DateType(), required=True, doc="d"),
    ), sort_by=())
    df = spark.createDataFrame([("U1", D1)], "user_id string, event_date date")
    spark_tables.replace_days(df, v1, [D1], {})
    v2 = TableDef("evolving", "gold", "test", Schema(*v1.schema.fields, NestedField(3, "extra", LongType(), doc="new")), sort_by=())
    spark_tables.forget_ensured()
    spark_tables.replace_days(spark.createDataFrame([("U2", D2, 7)], "user_id string, event_date date, extra bigint"), v2, [D2], {})
    rows = sorted((r.user_id, r.extra) for r in spark.table(table_name("evolving")).collect())
    assert rows == [("U1", None), ("U2", 7)]
    assert [f.name for f in catalog.load_table("authpulse.evolving").schema().fields] == ["user_id", "event_date", "extra"]


def test_reads_prune_to_the_requested_days(settings, spark, catalog):
    _replace(spark, [("U1", "C1", D1, 1), ("U2", "C1", D2, 1), ("U3", "C1", D3, 1)], [D1, D2, D3])
    df = spark_tables.read_days(spark, USER_HOST_DAILY, D2, D2)
    assert [r.user_id for r in df.collect()] == ["U2"]
    plan = df._jdf.queryExecution().executedPlan().toString()
    assert "event_date" in plan and "BatchScan" in plan
    # Iceberg reports the files it planned: one day partition of three.
    scanned = spark.sql(f"SELECT count(*) FROM {table_name(USER_HOST_DAILY.name)}.files WHERE partition.event_date = DATE'{D2}'").first()[0]
    assert scanned == 1


def test_load_table_is_none_before_any_write(settings, catalog):
    assert load_table(catalog, USER_HOST_DAILY) is None
    assert count_rows(None) == 0
