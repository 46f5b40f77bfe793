"""The streaming job's micro-batch processing, fed Kinesis-shaped rows built from a LANL file.

Most tests drive ``BatchProcessor`` directly (no stream needed) so they can
replay a batch on purpose; the streaming ≡ batch test runs the real query on
moto's Kinesis so the dedup state is exercised across batches. The kill tests
live in test_stream_e2e.py.
"""

from dataclasses import replace
from datetime import date

import pytest

from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.lanl.generator import generate
from authpulse_dagster.aws import aws_client
from authpulse_dagster.live.stream_job import BatchProcessor, drain, start_query
from authpulse_dagster.steps.context import StepContext
from authpulse_dagster.steps.registry import PIPELINE_STEPS as STEPS, run_step
from tests.live.kinesis_rows import as_batch, put_all, records_for

GOLD = ["user_host_daily", "user_behavior", "host_popularity"]


def rows_of(catalog, name, drop=("ingested_at",)):
    data = catalog.load_table(f"authpulse.{name}").scan().to_arrow()
    data = data.drop_columns([c for c in drop if c in data.column_names])
    return sorted((tuple(r.values()) for r in data.to_pylist()), key=repr)


@pytest.fixture
def input_file(tmp_path):
    path = tmp_path / "in.txt"
    generate(path, users=25, computers=40, days=2, seed=3, events_per_user_day=40, progress=False, corrupt_rate=0.01)
    return path


def test_a_replayed_batch_writes_nothing_twice(settings, catalog, spark, input_file):
    rows = records_for(input_file, "lanl2014", settings)
    processor = BatchProcessor(settings, "test-stream", "s", publish_metrics=False)
    first = processor.process(as_batch(spark, rows[:800], settings), 0)
    assert first.skipped_tables == [] and first.quarantined > 0  # the batch holds some damaged lines
    before = {t: rows_of(catalog, t) for t in ["raw_events", "quarantine", "auth_events", *GOLD]}
    again = processor.process(as_batch(spark, rows[:800], settings), 0)  # what Spark does after a crash
    assert set(again.skipped_tables) >= {"raw_events", "quarantine", "auth_events"}
    assert {t: rows_of(catalog, t) for t in before} == before


def test_gold_is_refreshed_at_most_every_refresh_seconds_and_on_stop(settings, catalog, spark, input_file):
    rows = records_for(input_file, "lanl2014", settings)
    processor = BatchProcessor(settings, "test-stream", "s", publish_metrics=False, refresh_seconds=3600)
    reports = [processor.process(as_batch(spark, rows[i:i + 400], settings), n) for n, i in enumerate((0, 400))]
    assert [r.refreshed for r in reports] == [False, False] and reports[1].silver_rows > 0
    assert not catalog.table_exists("authpulse.user_host_daily")  # silver landed; gold waits for the interval
    processor.flush()  # what stopping the job does
    assert len(rows_of(catalog, "user_host_daily")) > 0


@pytest.mark.slow
def test_streaming_equals_batch_on_the_same_input(aws_env, aws_resources, spark, input_file, tmp_path):
    """Through the real query (moto Kinesis, dedup state in the checkpoint): redeliveries in later batches
    are found in state, and silver and gold equal the batch path's."""
    settings = aws_env
    rows = records_for(input_file, "lanl2014", settings)
    # Redeliver some records, as a producer retry would: new sequence numbers, same bytes.
    rows = rows + rows[100:150]
    put_all(aws_client("kinesis", settings), settings.stream_name, rows)
    # Gold is refreshed once, when the drain stops: this test is about silver across batches (the state).
    # A refresh after every batch giving the batch path's tables is test_stream_risk's check.
    query, processor = start_query(spark, settings, str(tmp_path / "checkpoint"), trigger_seconds=0, max_records=700,
                                   publish_metrics=False, refresh_seconds=3600)
    drain(query, processor)
    assert query.exception() is None
    reports = list(processor.history)
    assert len(reports) >= 3 and sum(r.records for r in reports) == len(rows)
    assert not any(r.refreshed for r in reports)  # gold came from the drain's flush alone
    assert sum(r.redelivered for r in reports) == 50

    batch_settings = replace(settings, home=tmp_path / "batch-home")
    landing = batch_settings.landing_dir / "lanl2014"
    landing.mkdir(parents=True)
    (landing / input_file.name).symlink_to(input_file)
    days = [date(2024, 1, 1), date(2024, 1, 2)]
    for step in STEPS:
        run_step(step, StepContext(batch_settings, days, "batch"))

    s_cat, b_cat = load_catalog(settings), load_catalog(batch_settings)
    late = sum(r.late for r in reports)
    assert late == 0  # the generated file is in time order, so nothing falls behind the watermark
    stream_events = rows_of(s_cat, "auth_events", drop=("ingested_at", "source"))
    batch_events = rows_of(b_cat, "auth_events", drop=("ingested_at", "source"))
    assert len(stream_events) == len(batch_events) > 1000
    assert stream_events == batch_events
    for table in GOLD:
        assert rows_of(s_cat, table) == rows_of(b_cat, table), table
    # Every record is accounted for: bronze holds all deliveries, quarantine the same bad lines.
    assert len(rows_of(s_cat, "raw_events")) == len(rows)
    q = lambda cat: sorted(r[2] for r in rows_of(cat, "quarantine"))  # noqa: E731 - reason codes
    assert q(s_cat) == q(b_cat) and len(q(s_cat)) > 0


def test_events_behind_the_watermark_are_kept_and_listed(settings, catalog, spark, input_file):
    rows = records_for(input_file, "lanl2014", settings)
    processor = BatchProcessor(settings, "test-stream", "s", publish_metrics=False, refresh_seconds=3600)  # silver's concern
    day_two = [r for r in rows if b'"event_date":"2024-01-02"' in r[0]]
    day_one = [r for r in rows if b'"event_date":"2024-01-01"' in r[0]]
    processor.process(as_batch(spark, day_two, settings), 0)
    report = processor.process(as_batch(spark, day_one, settings), 1)  # a whole day arrives late
    assert report.late > 0
    late = catalog.load_table("authpulse.late_events").scan().to_arrow()
    assert late.num_rows == report.late
    assert set(late["event_date"].to_pylist()) == {date(2024, 1, 1)}
    silver_ids = set(catalog.load_table("authpulse.auth_events").scan().to_arrow()["event_id"].to_pylist())
    assert not silver_ids & set(late["event_id"].to_pylist())
    bronze = catalog.load_table("authpulse.raw_events").scan().to_arrow()
    assert bronze.num_rows == len(day_two) + len(day_one)
