"""The Kinesis source's pure rules: offsets, readable shards, budgets, pacing. No Spark, no AWS."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest


from authpulse_dagster.live.kinesis_shards import (
    AT_TIMESTAMP,
    TRIM_HORIZON,
    CallLimiter,
    Offset,
    Position,
    ShardInfo,
    ShardState,
    caught_up,
    iterator_request,
    next_call_delay,
    readable_shards,
    rotate,
    sequence_at_or_before,
    shard_finished,
    split_budget,
    start_position,
)
from tests.live.fakes import FakeTime

# Real Kinesis sequence numbers: 56 digits, far beyond 64 bits, and not contiguous.
SEQ_A = "49590338271490256608559692538361571095921575989136588898"
SEQ_B = "49590338271490256608559692540925702759324208523137515618"
TS = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)


def test_offset_round_trips_through_json_text() -> None:
    offset = Offset(
        Position(AT_TIMESTAMP, TS),
        {"shardId-000000000001": ShardState(SEQ_B, True), "shardId-000000000000": ShardState(None, False)},
    )
    raw = json.loads(json.dumps(offset.to_json()))
    assert Offset.from_json(raw) == offset
    assert raw["shards"]["shardId-000000000001"] == {"after": SEQ_B, "done": True}
    assert raw["start"] == {"type": "AT_TIMESTAMP", "timestamp": "2024-05-06T07:08:09.123456+00:00"}


def test_offset_serialises_canonically() -> None:
    # Spark matches cached batches by comparing json.dumps of offsets: equal offsets, equal text.
    a = Offset(Position(), {"b": ShardState("2"), "a": ShardState("1")})
    b = Offset(Position(), {"a": ShardState("1"), "b": ShardState("2")})
    assert json.dumps(a.to_json()) == json.dumps(b.to_json())
    assert list(a.to_json()["shards"]) == ["a", "b"]


def test_offset_of_another_version_is_refused() -> None:
    raw = Offset(Position()).to_json()
    raw["v"] = 99
    with pytest.raises(ValueError, match="new checkpoint"):
        Offset.from_json(raw)


def test_position_needs_timestamp_only_for_at_timestamp() -> None:
    with pytest.raises(ValueError):
        Position(AT_TIMESTAMP)
    with pytest.raises(ValueError):
        Position(TRIM_HORIZON, TS)
    with pytest.raises(ValueError):
        Position("LATEST")


def test_advanced_replaces_only_given_shards() -> None:
    offset = Offset(Position(), {"a": ShardState("1"), "b": ShardState("5")})
    moved = offset.advanced({"b": ShardState("9", True), "c": ShardState("3")})
    assert moved.shards == {"a": ShardState("1"), "b": ShardState("9", True), "c": ShardState("3")}
    assert offset.shards["b"] == ShardState("5")


def test_shard_info_from_list_shards_entry() -> None:
    info = ShardInfo.from_api(
        {
            "ShardId": "shardId-000000000004",
            "ParentShardId": "shardId-000000000001",
            "AdjacentParentShardId": "shardId-000000000002",
            "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": "1"},
            "SequenceNumberRange": {"StartingSequenceNumber": SEQ_A, "EndingSequenceNumber": SEQ_B},
        }
    )
    assert info == ShardInfo("shardId-000000000004", ("shardId-000000000001", "shardId-000000000002"), True)
    open_shard = ShardInfo.from_api({"ShardId": "s", "SequenceNumberRange": {"StartingSequenceNumber": SEQ_A}})
    assert open_shard == ShardInfo("s", (), False)


# A split of p into c1 and c2 (UNIFORM_SCALING 1 -> 2), and a merge of c1 and c2 into m.
P = ShardInfo("p", (), True)
C1 = ShardInfo("c1", ("p",), False)
C2 = ShardInfo("c2", ("p",), False)
C1_CLOSED = ShardInfo("c1", ("p",), True)
C2_CLOSED = ShardInfo("c2", ("p",), True)
M = ShardInfo("m", ("c1", "c2"), False)


def test_children_wait_until_parent_is_done() -> None:
    offset = Offset(Position(), {"p": ShardState(SEQ_A)})
    assert readable_shards([P, C1, C2], offset) == ["p"]
    done = offset.advanced({"p": ShardState(SEQ_B, True)})
    assert readable_shards([P, C1, C2], done) == ["c1", "c2"]


def test_merge_child_waits_for_both_parents() -> None:
    offset = Offset(Position(), {"p": ShardState(None, True), "c1": ShardState(SEQ_A, True), "c2": ShardState(SEQ_A)})
    assert readable_shards([P, C1_CLOSED, C2_CLOSED, M], offset) == ["c2"]
    both = offset.advanced({"c2": ShardState(SEQ_B, True)})
    assert readable_shards([P, C1_CLOSED, C2_CLOSED, M], both) == ["m"]


def test_parent_trimmed_before_we_saw_it_does_not_block() -> None:
    # p fell out of retention before the query started: it is neither listed nor known.
    assert readable_shards([C1, C2], Offset(Position())) == ["c1", "c2"]


def test_known_unfinished_shard_missing_from_listing_stays_readable() -> None:
    # Trust the read (which learns the shard is gone) over one listing: never drop a shard silently.
    offset = Offset(Position(), {"p": ShardState(SEQ_A)})
    assert readable_shards([C1, C2], offset) == ["p"]


def test_new_shard_starts_at_trim_horizon_known_one_at_query_start() -> None:
    offset = Offset(Position(AT_TIMESTAMP, TS), {"old": ShardState()})
    assert start_position("old", offset) == Position(AT_TIMESTAMP, TS)
    assert start_position("child", offset) == Position(TRIM_HORIZON)


def test_iterator_request_resumes_after_the_last_delivered_record() -> None:
    assert iterator_request(SEQ_A, Position(AT_TIMESTAMP, TS)) == {
        "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
        "StartingSequenceNumber": SEQ_A,
    }
    assert iterator_request(None, Position(AT_TIMESTAMP, TS)) == {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": TS}
    assert iterator_request(None, Position()) == {"ShardIteratorType": "TRIM_HORIZON"}


def test_shard_end_detection() -> None:
    assert shard_finished(None, 3, 100, closed=False)  # the API's signal
    assert shard_finished("it", 0, 0, closed=True)  # emulators that never send a null iterator
    assert not shard_finished("it", 0, 0, closed=False)  # an open shard at its tip is only idle
    assert not shard_finished("it", 0, 5000, closed=True)  # an empty page, but records remain
    assert not shard_finished("it", 2, 0, closed=True)


def test_caught_up_only_on_a_short_page_at_the_tip() -> None:
    assert caught_up(3, 10, 0)
    assert not caught_up(10, 10, 0)  # a full page: there may be more
    assert not caught_up(0, 10, 1500)
    assert not caught_up(0, 10, None)


def test_split_budget_is_even_and_exact() -> None:
    assert split_budget(10, ["a", "b", "c"]) == {"a": 4, "b": 3, "c": 3}
    assert split_budget(2, ["a", "b", "c"]) == {"a": 1, "b": 1, "c": 0}
    assert split_budget(5, []) == {}
    assert sum(split_budget(10_001, [str(i) for i in range(7)]).values()) == 10_001


def test_rotation_gives_every_shard_the_remainder_in_turn() -> None:
    shards = ["a", "b", "c"]
    favoured = {next(s for s, q in split_budget(1, rotate(shards, turn)).items() if q) for turn in range(3)}
    assert favoured == {"a", "b", "c"}


def test_sequence_numbers_compare_as_big_integers() -> None:
    assert sequence_at_or_before(SEQ_A, SEQ_B)
    assert sequence_at_or_before(SEQ_B, SEQ_B)
    assert not sequence_at_or_before(SEQ_B, SEQ_A)
    # As text "9" > "10"; as numbers it is not.
    assert sequence_at_or_before("9", "10")


def test_next_call_delay_keeps_a_one_second_window() -> None:
    assert next_call_delay([], 10.0, 5) == 0.0
    assert next_call_delay([9.5, 9.6, 9.7, 9.8], 10.0, 5) == 0.0
    assert next_call_delay([9.5, 9.6, 9.7, 9.8, 9.9], 10.0, 5) == pytest.approx(0.5)
    assert next_call_delay([8.0, 8.1, 8.2, 8.3, 8.4], 10.0, 5) == 0.0




def test_limiter_paces_each_shard_separately() -> None:
    t = FakeTime(100.0)
    limiter = CallLimiter(5, t.clock, t.sleep)
    calls: list[float] = []
    for _ in range(12):
        limiter.acquire("a")
        calls.append(t.now)
    limiter.acquire("b")  # another shard is not held back by a's calls
    assert t.now == calls[-1]
    for i in range(len(calls)):
        window = [c for c in calls if calls[i] <= c < calls[i] + 1.0]
        assert len(window) <= 5
    assert calls[-1] - calls[0] >= 2.0  # 12 calls at 5/s need more than two seconds
