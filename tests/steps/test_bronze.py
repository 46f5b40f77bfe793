

def test_rebuilding_a_day_keeps_the_rows_the_stream_landed(settings, catalog):
    """A backfill of a day the stream fed must not wipe the stream's bronze rows."""
    from datetime import date, datetime, timezone

    from authpulse_dagster.lakehouse.schemas import RAW_EVENTS
    from authpulse_dagster.steps import bronze
    from authpulse_dagster.steps.context import StepContext
    from tests.fixtures.lakehouse import land, write_rows

    now = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    streamed = {
        "event_id": ["k1"], "payload": [b"{}"], "payload_size": [2], "source": ["kinesis"], "format": ["lanl2014"],
        "source_file": [None], "line_number": [None], "dataset_time": [5], "shard_id": ["shardId-0"],
        "sequence_number": ["1"], "arrival_ts": [now], "event_date": [date(2024, 1, 1)], "ingested_at": [now],
    }
    write_rows(settings, RAW_EVENTS, [{k: v[0] for k, v in streamed.items()}], append=True)
    land(settings, "lanl2014", "a.txt", b"1,U1,C1\n2,U2,C2\n")
    result = bronze.run(StepContext(settings, [date(2024, 1, 1)], "t"))
    rows = catalog.load_table(RAW_EVENTS.identifier).scan().to_arrow()
    assert sorted(rows["source"].to_pylist()) == ["file", "file", "kinesis"]
    assert result.metadata["raw_events"]["rows_by_day"] == {"2024-01-01": 3}
