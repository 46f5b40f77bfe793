"""Silver transformations: split, dedup, enrichment."""

from datetime import datetime, timezone

from authpulse_dagster.transforms.silver import AUTH_EVENT_COLUMNS, deduplicate, parse, quarantine_rows, valid_events
from authpulse_dagster.transforms.validation import ParseOptions
from tests.transforms.helpers import bronze_rows

OPTS = ParseOptions(epoch=datetime(2024, 1, 1, tzinfo=timezone.utc))


def test_split_accounts_for_every_row(spark):
    parsed = parse(bronze_rows(spark, [b"1,U1,C1", b"bad", b"2,U2,C2", b""]), OPTS)
    assert valid_events(parsed).count() == 2
    q = quarantine_rows(parsed).collect()
    assert sorted(r["reason"] for r in q) == ["blank_line", "wrong_field_count"]
    assert {r["payload_text"] for r in q} == {"bad", ""}


def test_dedup_keeps_one_row_per_event_id_and_drops_known_ids(spark):
    df = bronze_rows(spark, [b"1,U1,C1", b"1,U1,C1", b"2,U2,C2"])
    # Same event id twice (a replayed record), as the reader would assign for a redelivery.
    from pyspark.sql import functions as F

    df = df.withColumn("event_id", F.when(F.col("line_number") <= 2, "dup").otherwise(F.col("event_id")))
    events = deduplicate(valid_events(parse(df, OPTS)))
    assert sorted(r["event_id"] for r in events.collect()) == ["dup", "id2"]
    kept = [r for r in events.collect() if r["event_id"] == "dup"][0]
    assert kept["event_ts"].replace(tzinfo=None) == datetime(2024, 1, 1, 0, 0, 1)
    known = spark.createDataFrame([("id2",)], "event_id string")
    assert [r["event_id"] for r in deduplicate(valid_events(parse(df, OPTS)), known).collect()] == ["dup"]
    assert events.columns == AUTH_EVENT_COLUMNS


def test_enrichment_hour_and_iso_weekday(spark):
    # 2024-01-06 is a Saturday; 13:00 UTC.
    t = 5 * 86400 + 13 * 3600
    row = deduplicate(valid_events(parse(bronze_rows(spark, [f"{t},U1,C1".encode()]), OPTS))).first()
    assert (row["event_hour"], row["day_of_week"], str(row["event_date"])) == (13, 6, "2024-01-06")
