"""Every quarantine reason code, caught on a crafted record, and valid records parsed right."""

from datetime import datetime, timezone

import pytest

from authpulse_dagster.transforms.validation import REASONS, ParseOptions, parse_records
from tests.transforms.helpers import bronze_rows

OPTS = ParseOptions(epoch=datetime(2024, 1, 1, tzinfo=timezone.utc), max_line_bytes=64, max_dataset_seconds=1_000_000)

CASES_2014 = [
    (b"\xff\xfe,U1,C1", "non_utf8"),
    (b"1,U1," + b"C" * 80, "line_too_long"),
    (b"", "blank_line"),
    (b"   ", "blank_line"),
    (b"time,user,computer", "header_line"),
    (b"1,U1", "wrong_field_count"),
    (b"1,U1,C1,extra", "wrong_field_count"),
    (b"-5,U1,C1", "time_negative"),
    (b"1.5,U1,C1", "time_not_integer"),
    (b"abc,U1,C1", "time_not_integer"),
    (b"1000001,U1,C1", "time_out_of_range"),
    (b"99999999999999999999999,U1,C1", "time_out_of_range"),
    (b"1,,C1", "empty_user"),
    (b"1,X1,C1", "malformed_user"),
    (b"1,U1x,C1", "malformed_user"),
    (b"1,U1,", "empty_computer"),
    (b"1,U1,Q7", "malformed_computer"),
]

CASES_2015 = [
    (b"1,U1@DOM1,U1@DOM1,C1,C2,Kerberos,Network,LogOn,Maybe", "unknown_success_value"),
    (b"1,U1@DOM1,U1@DOM1,C1,C2,Kerberos,Network,LogOn", "wrong_field_count"),
    (b"1,U1,U1@DOM1,C1,C2,Kerberos,Network,LogOn,Success", "malformed_user"),
    (b"1,U1@DOM1,U1@DOM1,C1,C 2,Kerberos,Network,LogOn,Success", "malformed_computer"),
]


def _reasons(spark, cases, fmt):
    df = parse_records(bronze_rows(spark, [c for c, _ in cases], fmt), OPTS)
    got = {r["line_number"]: r["reason"] for r in df.select("line_number", "reason").collect()}
    return [got[i + 1] for i in range(len(cases))]


def test_every_2014_reason_is_caught(spark):
    assert _reasons(spark, CASES_2014, "lanl2014") == [r for _, r in CASES_2014]


def test_2015_specific_reasons(spark):
    assert _reasons(spark, CASES_2015, "lanl2015") == [r for _, r in CASES_2015]


def test_unknown_format(spark):
    assert _reasons(spark, [(b"1,U1,C1", "unknown_format")], "lanl1999") == ["unknown_format"]


def test_bad_stream_record(spark):
    assert _reasons(spark, [(b"{not json", "bad_record")], "bad_record") == ["bad_record"]


def test_stream_record_whose_id_is_not_its_lines(spark):
    assert _reasons(spark, [(b'{"event_id":"x"}', "event_id_conflict")], "event_id_conflict") == ["event_id_conflict"]


def test_every_documented_reason_has_a_case():
    covered = {r for _, r in CASES_2014 + CASES_2015} | {"unknown_format", "bad_record", "event_id_conflict"}
    assert covered == set(REASONS)


def test_valid_2014_line_is_parsed(spark):
    row = parse_records(bronze_rows(spark, [b"86401,U42,C7"]), OPTS).first()
    assert row["reason"] is None
    assert (row["user_id"], row["computer_id"], row["src_computer_id"], row["success"]) == ("U42", "C7", None, True)
    assert row["event_ts"].replace(tzinfo=None) == datetime(2024, 1, 2, 0, 0, 1)


def test_valid_2015_line_is_parsed(spark):
    line = b"150885,U620@DOM1,SYSTEM@C17693,C17693,C1003,?,Network,LogOn,Fail"
    row = parse_records(bronze_rows(spark, [line], "lanl2015"), OPTS).first()
    assert row["reason"] is None
    assert row["user_id"] == "U620" and row["user_domain"] == "DOM1"
    assert (row["src_computer_id"], row["computer_id"], row["dst_user_id"]) == ("C17693", "C1003", "SYSTEM")
    assert row["auth_type"] is None  # '?' means missing
    assert row["logon_type"] == "Network" and row["success"] is False


@pytest.mark.parametrize("user", [b"C625$@DOM1", b"ANONYMOUS LOGON@C586"])
def test_2015_machine_and_special_accounts_are_valid(spark, user):
    line = b"1," + user + b"," + user + b",C625,C625,Negotiate,Batch,LogOn,Success"
    opts = ParseOptions(epoch=OPTS.epoch)  # default line limit: 2015 lines are longer than the test's 64 bytes
    assert parse_records(bronze_rows(spark, [line], "lanl2015"), opts).first()["reason"] is None


def test_a_13_digit_time_is_out_of_range_and_nothing_overflows(spark):
    # epoch + 9.3e12 s overflows a Spark timestamp (microseconds in a long); the line must be quarantined.
    opts = ParseOptions(epoch=OPTS.epoch)
    lines = [b"9300000000000,U1,C1", b"9223372036854775807,U1,C1", b"5,U1,C1"]
    rows = {r["line_number"]: r for r in parse_records(bronze_rows(spark, lines), opts).collect()}
    assert [rows[i]["reason"] for i in (1, 2, 3)] == ["time_out_of_range", "time_out_of_range", None]
    assert rows[1]["event_ts"] is None and rows[3]["event_ts"] is not None


def test_a_huge_max_dataset_seconds_cannot_overflow_either(spark):
    opts = ParseOptions(epoch=OPTS.epoch, max_dataset_seconds=2**62)
    rows = parse_records(bronze_rows(spark, [b"9300000000000,U1,C1"]), opts).collect()
    assert rows[0]["reason"] == "time_out_of_range"  # past year 9999


def test_detail_of_a_non_utf8_bad_record_is_valid_text(spark):
    # The quarantine stores detail as a string: invalid UTF-8 there failed the whole micro-batch.
    from authpulse_dagster.transforms.silver import quarantine_rows

    parsed = parse_records(bronze_rows(spark, [b"\xff\xfe not json"], "bad_record"), OPTS)
    rows = quarantine_rows(parsed).toArrow().to_pylist()  # Arrow, as the quarantine writer takes it
    assert rows[0]["reason"] == "bad_record" and "not json" in rows[0]["detail"]


def test_leading_space_in_time_is_trimmed_as_the_reader_does(spark):
    row = parse_records(bronze_rows(spark, [b" 5,U2,C2"]), OPTS).first()
    assert row["reason"] is None and row["parsed_time"] == 5
