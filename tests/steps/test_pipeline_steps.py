"""The steps on landed files: bronze → silver → gold on real Spark and real Iceberg tables."""

import bz2
import gzip
from datetime import date

import pyarrow.compute as pc
import pytest

from authpulse_dagster.lakehouse.tables import count_rows
from authpulse_dagster.lanl.days import DayAttributor
from authpulse_dagster.steps.context import StepContext
from authpulse_dagster.steps.registry import PIPELINE_STEPS as STEPS, run_step
from tests.fixtures.lakehouse import land

D1, D2 = date(2024, 1, 1), date(2024, 1, 2)

# One line per quarantine reason a file can carry, between valid lines of two days.
LINES_2014 = [
    b"time,user,computer",          # header_line (top of file: filed under the first valid day)
    b"1,U1,C1",
    b"1,U1,C1",                     # a genuine repeat within the second: a distinct event
    b"5,U2,C2",
    b"",                            # blank_line
    b"7,U1",                        # wrong_field_count
    b"x7,U1,C1",                    # time_not_integer
    b"-4,U1,C1",                    # time_negative
    b"99999999999,U1,C1",           # time_out_of_range
    b"9,,C1",                       # empty_user
    b"9,User1,C1",                  # malformed_user
    b"9,U1,",                       # empty_computer
    b"9,U1,host1",                  # malformed_computer
    b"\xff\xfe,U1,C1",              # non_utf8
    b"9,U1," + b"C" * 2000,         # line_too_long
    b"86401,U1,C3",
    b"86402,U3,C1",
    b"bad line on day two",         # wrong_field_count, filed under day two
]
LINES_2015 = [
    b"10,U7@DOM1,U7@DOM1,C9,C9,Kerberos,Network,LogOn,Success",
    b"11,U7@DOM1,U7@DOM1,C9,C8,Kerberos,Network,LogOn,Perhaps",  # unknown_success_value
    b"86410,U8@DOM1,SYSTEM@C8,C8,C8,?,?,TGS,Fail",
]


def _content(lines):
    return b"\n".join(lines) + b"\n"


def _run(settings, steps, days=(D1, D2), run_id="r1"):
    results = {}
    for step in steps:
        results[step] = run_step(step, StepContext(settings, list(days), run_id))
    return results


def _table(catalog, name):
    return catalog.load_table(f"authpulse.{name}")


@pytest.fixture
def landed(settings):
    land(settings, "lanl2014", "a.txt.gz", gzip.compress(_content(LINES_2014)))
    land(settings, "lanl2015", "b.txt.bz2", bz2.compress(_content(LINES_2015)))
    return settings


def test_every_line_is_accounted_for(landed, catalog, spark):
    results = _run(landed, list(STEPS))
    bronze = results["bronze"].metadata["raw_events"]
    assert bronze["rows"] == len(LINES_2014) + len(LINES_2015)
    assert bronze["rows_by_day"] == {"2024-01-01": 17, "2024-01-02": 4}

    silver = results["silver"]
    reasons = silver.metadata["quarantine"]["by_reason"]
    assert reasons == {
        "blank_line": 1, "empty_computer": 1, "empty_user": 1, "header_line": 1, "line_too_long": 1,
        "malformed_computer": 1, "malformed_user": 1, "non_utf8": 1, "time_negative": 1, "time_not_integer": 1,
        "time_out_of_range": 1, "unknown_success_value": 1, "wrong_field_count": 2,
    }
    assert silver.metadata["auth_events"]["rows"] == 7
    checks = {c.name: c.passed for c in silver.checks}
    assert checks == {"event_id_unique": True, "user_and_computer_not_null": True, "row_conservation": True,
                      "quarantine_rate": False}

    events = _table(catalog, "auth_events").scan().to_arrow()
    by_user = sorted(zip(events["user_id"].to_pylist(), events["computer_id"].to_pylist()))
    assert by_user == [("U1", "C1"), ("U1", "C1"), ("U1", "C3"), ("U2", "C2"), ("U3", "C1"), ("U7", "C9"), ("U8", "C8")]
    u8 = events.filter(pc.equal(events["user_id"], "U8")).to_pylist()[0]
    assert (u8["src_computer_id"], u8["success"], u8["auth_type"], u8["format"]) == ("C8", False, None, "lanl2015")
    q = _table(catalog, "quarantine").scan().to_arrow().to_pylist()
    assert {r["line_number"] for r in q if r["source_file"].endswith("a.txt.gz")} == {1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 18}

    assert count_rows(_table(catalog, "user_host_daily")) == 6
    behavior = _table(catalog, "user_behavior").scan().to_arrow().to_pylist()
    u1_day2 = [r for r in behavior if r["user_id"] == "U1" and r["window"] == "1d" and str(r["event_date"]) == "2024-01-02"][0]
    assert (u1_day2["events"], u1_day2["distinct_computers"], u1_day2["new_computers"]) == (1, 1, 1)


def _snapshot_rows(table):
    """All rows, order-free; ingested_at is left out because a re-ingest truly lands again."""
    data = table.scan().to_arrow()
    if "ingested_at" in data.column_names:
        data = data.drop_columns(["ingested_at"])
    return sorted((tuple(r.values()) for r in data.to_pylist()), key=repr)


def test_rematerializing_gives_identical_tables(landed, catalog, spark):
    tables = ["raw_events", "auth_events", "quarantine", "user_host_daily", "user_behavior", "host_popularity",
              "user_route_daily", "risk_scores", "host_risk_daily", "user_risk_daily"]
    _run(landed, list(STEPS), run_id="first")
    first = {n: _snapshot_rows(_table(catalog, n)) for n in tables}
    _run(landed, list(STEPS), run_id="second")
    for name, rows in first.items():
        assert _snapshot_rows(_table(catalog, name)) == rows, name
    snap = _table(catalog, "auth_events").current_snapshot()
    assert snap.summary["authpulse.dagster_run_id"] == "second"
    assert snap.summary["authpulse.asset_partition"] == "2024-01-01...2024-01-02"


def test_time_travel_reads_the_previous_snapshot_after_rematerialization(landed, catalog, spark):
    _run(landed, ["bronze", "silver"], days=[D1])
    table = _table(catalog, "auth_events")
    before_id = table.current_snapshot().snapshot_id
    before = table.scan().to_arrow().num_rows
    # The day's source changes: one more valid line lands, and the day is rebuilt.
    land(landed, "lanl2014", "c.txt", b"20,U5,C5\n")
    _run(landed, ["bronze", "silver"], days=[D1])
    table.refresh()
    assert table.scan().to_arrow().num_rows == before + 1
    old = table.scan(snapshot_id=before_id).to_arrow()
    assert old.num_rows == before and "U5" not in old["user_id"].to_pylist()


def test_day_attribution_carries_the_last_valid_day_across_chunks():
    import pyarrow as pa

    from authpulse_dagster.settings import Settings

    attributor = DayAttributor(Settings().dataset_epoch, fallback_day=0)
    epoch_day = Settings().dataset_epoch.toordinal() - date(1970, 1, 1).toordinal()

    def batch(times):
        return pa.record_batch({"dataset_time": pa.array(times, pa.int64())})

    assert attributor.days_of(batch([None, None])) == []  # held until a valid time appears
    out = attributor.days_of(batch([None, 86400, None]))
    out += attributor.days_of(batch([None, 5]))
    days = [int(d) - epoch_day for _, arr in out for d in arr]
    assert days == [1, 1, 1, 1, 1, 1, 0]
    assert DayAttributor(Settings().dataset_epoch, fallback_day=7).days_of(batch([None])) == []
