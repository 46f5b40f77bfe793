"""The event-id rule: deterministic, repeats within a second stay distinct,
a replayed file gets the same ids again."""

from hashlib import blake2b

import pytest

from authpulse_dagster.lanl.event_id import EventIdAssigner, canonical_line, event_id, first_field, id_matches
from authpulse_dagster.lanl.formats import LINE_HARD_CAP


def ids(lines):
    a = EventIdAssigner()
    return [a.assign(line) for line in lines]


def test_event_id_matches_the_documented_formula():
    expected = blake2b(b"1,U1,C1" + b"\x1f" + b"0", digest_size=16).hexdigest()
    assert event_id(b"1,U1,C1\n", 0) == expected
    assert event_id(b"1,U1,C1", 12) == blake2b(b"1,U1,C1\x1f12", digest_size=16).hexdigest()
    assert len(expected) == 32


def test_deterministic_across_assigners():
    lines = [b"1,U1,C1", b"1,U2,C2", b"2,U1,C1"]
    assert ids(lines) == ids(lines)
    assert len(set(ids(lines))) == 3


def test_crlf_and_lf_give_the_same_id():
    assert event_id(b"1,U1,C1\r\n", 0) == event_id(b"1,U1,C1\n", 0) == event_id(b"1,U1,C1", 0)
    assert ids([b"1,U1,C1\r\n", b"1,U1,C1\r\n"]) == ids([b"1,U1,C1\n", b"1,U1,C1"])
    assert canonical_line(b" a,b \r\n") == b" a,b "  # nothing but the terminator is touched


def test_repeats_within_a_second_are_distinct():
    got = ids([b"1,U1,C1", b"1,U1,C1", b"1,U2,C2", b"1,U1,C1"])
    assert len(set(got)) == 4
    assert got[0] == event_id(b"1,U1,C1", 0)
    assert got[1] == event_id(b"1,U1,C1", 1)
    assert got[2] == event_id(b"1,U2,C2", 0)
    assert got[3] == event_id(b"1,U1,C1", 2)


def test_counter_resets_when_the_time_changes():
    got = ids([b"1,U1,C1", b"2,U9,C9", b"1,U1,C1"])
    assert got[0] == got[2] == event_id(b"1,U1,C1", 0)


def test_file_concatenated_with_itself_repeats_its_ids():
    one = [b"0,U1,C1", b"0,U1,C1", b"0,U2,C3", b"5,U1,C1", b"9,U4,C4", b"9,U4,C4"]
    both = ids(one + one)
    assert both[: len(one)] == both[len(one) :] == ids(one)
    assert len(set(ids(one))) == len(one)


def test_repeats_stay_distinct_when_the_file_starts_at_the_same_second():
    # Replaying a file whose first and last seconds are equal continues the run.
    one = [b"3,U1,C1", b"3,U1,C1"]
    both = ids(one + one)
    assert len(set(both)) == 4


def test_assign_many_matches_assign_and_reports_run_values():
    lines = [b"1,a", b"1,a", b"x,b", b"", b"", b"2"]
    a = EventIdAssigner(run_value=lambda f: f.decode())
    got, values = a.assign_many(lines)
    assert got == ids(lines)
    assert values == ["1", "1", "x", "", "", "2"]


def test_assign_many_keeps_state_between_calls():
    lines = [b"1,a", b"1,a", b"1,a", b"2,a"]
    a = EventIdAssigner()
    split = a.assign_many(lines[:2])[0] + a.assign_many(lines[2:])[0]
    assert split == ids(lines)


def test_long_lines_use_the_same_formula_and_occurrences():
    big = b"7," + b"y" * (LINE_HARD_CAP + 10)
    got = ids([big, big, b"7,z"])
    assert got[0] == event_id(big, 0)
    assert got[1] == event_id(big, 1)
    streamed = EventIdAssigner()
    h = blake2b(digest_size=16)
    h.update(big[:100])
    h.update(big[100:])
    assert streamed.assign_long(big[:LINE_HARD_CAP], h) == got[0]


def test_first_field():
    assert first_field(b"12,U1,C1") == b"12"
    assert first_field(b"nocomma") == b"nocomma"
    assert first_field(b"") == b""


def test_negative_occurrence_rejected():
    with pytest.raises(ValueError):
        event_id(b"1,U1,C1", -1)


def test_a_damaged_line_between_identical_events_does_not_merge_them():
    from authpulse_dagster.lanl.event_id import EventIdAssigner

    a = EventIdAssigner()
    ids = [a.assign(x) for x in [b"5,U1,C1", b"", b"-5,U1,C1", b"garbage", b"5,U1,C1", b"6,U1,C1", b"5,U1,C1"]]
    assert ids[0] != ids[4]  # same second, a genuine repeat: distinct despite the damaged lines between
    assert ids[6] == ids[0]  # a new run (time 6) came between: the same line again is a redelivery


def test_id_matches_only_the_line_it_was_made_from():
    line = b"5,U1,C1"
    assert id_matches(event_id(line, 0), line) and id_matches(event_id(line, 41), line + b"\r\n")
    assert not id_matches(event_id(line, 0), b" 5,U1,C1")
    assert not id_matches("not-an-id", line) and not id_matches("0" * 32, line)
    assert not id_matches(event_id(line, 9), line, max_occurrence=9)
