"""Pure shard and offset logic of the Kinesis source: no boto3, no Spark.

Kept apart from :mod:`authpulse_dagster.live.kinesis_source` so the rules
that decide correctness (what an offset means, which shard may be read, how
a batch's record budget is shared, how fast a shard may be polled) can be
unit-tested without a stream or a SparkSession.

Offset format (a JSON object Spark checkpoints for every micro-batch)::

    {"v": 1,
     "start": {"type": "TRIM_HORIZON"}
              | {"type": "AT_TIMESTAMP", "timestamp": "2024-01-01T00:00:00.000000+00:00"},
     "shards": {"shardId-000000000000": {"after": "4959...", "done": false}, ...}}

``after`` is the sequence number of the last record delivered from the shard
(null: none yet), ``done`` says the shard is closed and was read to its end.
A shard listed in the offset with ``after`` null starts at ``start`` (the
query's starting position, resolved once: LATEST becomes AT_TIMESTAMP of the
moment the query first planned); a shard absent from the offset appeared
later (a reshard child) and starts at TRIM_HORIZON, because every record of
a shard created after the query started is new to it.

Sequence numbers are compared as integers only within one shard: Kinesis
guarantees they increase within a shard, and promises nothing across shards
(nor that they are small or contiguous).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence

TRIM_HORIZON = "TRIM_HORIZON"
LATEST = "LATEST"
AT_TIMESTAMP = "AT_TIMESTAMP"
STARTING_POSITIONS = (TRIM_HORIZON, LATEST, AT_TIMESTAMP)

OFFSET_VERSION = 1
# GetRecords refuses a Limit above this.
MAX_GET_RECORDS_LIMIT = 10_000


@dataclass(frozen=True)
class Position:
    """Where a shard with nothing delivered yet starts: TRIM_HORIZON or AT_TIMESTAMP."""

    kind: str = TRIM_HORIZON
    timestamp: datetime | None = None

    def __post_init__(self) -> None:
        if self.kind not in (TRIM_HORIZON, AT_TIMESTAMP):
            raise ValueError(f"offset start type {self.kind!r} must be {TRIM_HORIZON} or {AT_TIMESTAMP}")
        if (self.kind == AT_TIMESTAMP) != (self.timestamp is not None):
            raise ValueError("an AT_TIMESTAMP start needs a timestamp, and only it")

    def to_json(self) -> dict[str, Any]:
        if self.timestamp is None:
            return {"type": self.kind}
        # Microseconds kept: the timestamp must round-trip exactly, or a replay would start elsewhere.
        return {"type": self.kind, "timestamp": self.timestamp.astimezone(timezone.utc).isoformat(timespec="microseconds")}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> "Position":
        ts = raw.get("timestamp")
        return cls(raw["type"], datetime.fromisoformat(ts) if ts is not None else None)


@dataclass(frozen=True)
class ShardState:
    """Progress in one shard: last sequence number delivered, and whether its end was reached."""

    after: str | None = None
    done: bool = False


@dataclass(frozen=True)
class Offset:
    """A point in the stream: the per-shard progress plus the query's starting position."""

    start: Position
    shards: Mapping[str, ShardState] = field(default_factory=dict)
    # When the stream the sequence numbers belong to was created (ISO time): a stream deleted and
    # created again under the same name starts its sequence numbers over, and resuming from the old
    # ones would skip records. None in offsets written before it was recorded.
    stream_created: str | None = None

    def to_json(self) -> dict[str, Any]:
        # Canonical key order: Spark's Python wrapper matches offsets by comparing json.dumps
        # strings, so equal offsets must serialise identically.
        out: dict[str, Any] = {
            "v": OFFSET_VERSION,
            "start": self.start.to_json(),
            "shards": {
                sid: {"after": st.after, "done": st.done} for sid, st in sorted(self.shards.items())
            },
        }
        if self.stream_created is not None:
            out["stream_created"] = self.stream_created
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> "Offset":
        version = raw.get("v")
        if version != OFFSET_VERSION:
            raise ValueError(
                f"Kinesis offset version {version!r} is not {OFFSET_VERSION}; "
                "the checkpoint was written by another version of the source, start from a new checkpoint"
            )
        shards = {
            sid: ShardState(after=None if st.get("after") is None else str(st["after"]), done=bool(st.get("done")))
            for sid, st in raw.get("shards", {}).items()
        }
        return cls(Position.from_json(raw["start"]), shards, raw.get("stream_created"))

    def advanced(self, updates: Mapping[str, ShardState], stream_created: str | None = None) -> "Offset":
        """This offset with some shards' progress replaced (and the stream's creation time, if it had none)."""
        return Offset(self.start, {**self.shards, **updates}, self.stream_created or stream_created)


@dataclass(frozen=True)
class ShardInfo:
    """What planning needs from one ListShards entry."""

    shard_id: str
    parents: tuple[str, ...] = ()
    # A closed shard (split or merged) has an EndingSequenceNumber; an open one has none.
    closed: bool = False

    @classmethod
    def from_api(cls, shard: Mapping[str, Any]) -> "ShardInfo":
        parents = tuple(p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p)
        closed = shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber") is not None
        return cls(shard["ShardId"], parents, closed)


def start_position(shard_id: str, offset: Offset) -> Position:
    """Where ``shard_id`` starts when nothing was delivered from it yet (see the module docstring)."""
    return offset.start if shard_id in offset.shards else Position(TRIM_HORIZON)


def iterator_request(after: str | None, position: Position) -> dict[str, Any]:
    """The GetShardIterator arguments (besides stream and shard) to resume after ``after``."""
    if after is not None:
        return {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": after}
    if position.kind == AT_TIMESTAMP:
        return {"ShardIteratorType": AT_TIMESTAMP, "Timestamp": position.timestamp}
    return {"ShardIteratorType": TRIM_HORIZON}


def readable_shards(listing: Iterable[ShardInfo], offset: Offset) -> list[str]:
    """Shards that may be read now, sorted by id.

    A shard is readable when it is not done and each parent is finished: done
    in the offset, or neither listed nor known (trimmed away before we saw
    it). Reading a child only after its parents keeps per-key order across a
    reshard, since a key's older records are in the parent. Known shards
    missing from the listing stay readable: the read itself finds out whether
    the shard is gone, rather than trusting one listing with dropping data.
    """
    listed = {s.shard_id: s for s in listing}

    def finished(parent: str) -> bool:
        state = offset.shards.get(parent)
        return state.done if state is not None else parent not in listed

    out = set()
    for sid, info in listed.items():
        state = offset.shards.get(sid)
        if (state is None or not state.done) and all(finished(p) for p in info.parents):
            out.add(sid)
    out.update(sid for sid, st in offset.shards.items() if not st.done and sid not in listed)
    return sorted(out)


def shard_finished(next_iterator: str | None, records: int, millis_behind: int | None, closed: bool) -> bool:
    """Whether a GetRecords answer says the shard has been read to its end.

    The API's signal is a null NextShardIterator. Some emulators never send
    it, so a shard known to be closed that answers an empty page while caught
    up (MillisBehindLatest 0: nothing more to read) counts as ended too; a
    closed shard can never receive records again, so this is safe everywhere.
    """
    if next_iterator is None:
        return True
    return closed and records == 0 and millis_behind == 0


def caught_up(records: int, limit: int, millis_behind: int | None) -> bool:
    """Whether polling the shard again now is pointless: a short page at the tip."""
    return records < limit and millis_behind == 0


def split_budget(total: int, shard_ids: Sequence[str]) -> dict[str, int]:
    """Share ``total`` records among shards as evenly as possible; earlier ones get the remainder.

    Callers rotate ``shard_ids`` between batches so that, with fewer records
    than shards, no shard is starved.
    """
    if not shard_ids:
        return {}
    base, extra = divmod(max(total, 0), len(shard_ids))
    return {sid: base + (1 if i < extra else 0) for i, sid in enumerate(shard_ids)}


def rotate(items: Sequence[str], turn: int) -> list[str]:
    if not items:
        return []
    k = turn % len(items)
    return list(items[k:]) + list(items[:k])


def sequence_at_or_before(sequence: str, bound: str) -> bool:
    """``sequence <= bound``, for two sequence numbers of the same shard."""
    return int(sequence) <= int(bound)


def next_call_delay(call_times: Sequence[float], now: float, max_per_second: int) -> float:
    """Seconds to wait before the next call so at most ``max_per_second`` fall in any 1 s window."""
    recent = [t for t in call_times if now - t < 1.0]
    if len(recent) < max_per_second:
        return 0.0
    # The call that must leave the window is the max_per_second-th most recent one.
    oldest_blocking = sorted(recent)[-max_per_second]
    return max(0.0, oldest_blocking + 1.0 - now)


class CallLimiter:
    """Per-shard call pacing (Kinesis allows 5 GetRecords per shard per second).

    Thread-safe: shards are read in parallel. The clock and sleep are
    injectable so tests need not wait.
    """

    def __init__(
        self,
        max_per_second: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_per_second < 1:
            raise ValueError("max_per_second must be at least 1")
        self.max_per_second = max_per_second
        self._clock = clock
        self._sleep = sleep
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> None:
        """Block until a call for ``key`` is allowed, then record it."""
        while True:
            with self._lock:
                calls = self._calls.setdefault(key, deque(maxlen=self.max_per_second))
                now = self._clock()
                delay = next_call_delay(calls, now, self.max_per_second)
                if delay <= 0:
                    calls.append(now)
                    return
            self._sleep(delay)
