"""Redelivered records found in Structured Streaming state, not by rescanning silver.

What: the stream's bronze rows are grouped by ``event_id`` in the streaming
plan (``applyInPandasWithState``, RocksDB state store, kept in the query's
checkpoint). Each row leaves with a ``delivery`` mark:

- ``first``: the first copy of an event (or a record that is not an event:
  ``bad_record`` / ``event_id_conflict`` rows carry a per-record id);
- ``redelivered``: the same id, the same payload bytes *and* the same place
  in the source (``source_file``, ``line_number``) as a copy already seen —
  a producer retry, an overlapping re-replay;
- ``duplicate``: the same id and bytes from another line of the source — the
  file itself repeats the line (LANL does; so do blank lines). It is parsed
  like any line: a damaged one is quarantined once per line, as the batch
  path does; a valid one is a duplicate event and does not reach silver again;
- ``conflict``: the same id with different bytes — never dropped, quarantined
  as ``event_id_conflict``.

Every row still reaches bronze; only ``first`` rows go on to silver, so row
conservation counts a redelivery as a duplicate, never as a loss.

Why: the stream used to anti-join each batch against every ``event_id`` of
the touched days in ``auth_events``; that scan grows with how much of the day
has arrived. A state lookup costs the batch's own keys.

How far back: a key is remembered for ``ttl_hours`` of processing time after
it was last seen (``GroupStateTimeout.ProcessingTimeTimeout``; not the
event-time timeout, which would make Spark filter rows behind the watermark
out of the operator — a silent drop). A redelivery later than that lands in
silver a second time; the daily reconcile rebuilds the day's silver from
bronze (which deduplicates the whole day) and ``event_id_unique`` reports it
until then.

A Structured Streaming checkpoint fixes its stateful operators: a checkpoint
written before this operator existed cannot be resumed (start the stream on a
new checkpoint; the tables' exactly-once check is per stream id).
"""

from __future__ import annotations

import hashlib
from typing import Iterator

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.streaming.state import GroupState, GroupStateTimeout
from pyspark.sql.types import StringType, StructField, StructType

from authpulse_dagster.transforms.validation import BAD_RECORD_FORMAT, ID_CONFLICT_FORMAT

FIRST, REDELIVERED, DUPLICATE, CONFLICT = "first", "redelivered", "duplicate", "conflict"
ROCKSDB = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
STATE_SCHEMA = "payload_sha string, positions array<string>"
# Places in the source remembered per event id: a line repeated more often than this is still
# parsed once per line; a retry of one of its later copies is then parsed again (a second
# quarantine row for a damaged line, nothing for a valid one, which silver already holds).
MAX_POSITIONS = 64
_NOT_EVENTS = (BAD_RECORD_FORMAT, ID_CONFLICT_FORMAT)


def _sha(payload: bytes | None) -> str:
    return hashlib.sha256(bytes(payload or b"")).hexdigest()


def _position(row: pd.Series) -> str | None:
    if pd.isna(row.get("source_file")) or pd.isna(row.get("line_number")):
        return None
    return f"{row['source_file']}:{int(row['line_number'])}"


def mark_deliveries(
    rows: pd.DataFrame, kept_sha: str | None, kept_positions: list[str] | None = None
) -> tuple[pd.Series, str | None, list[str]]:
    """The ``delivery`` mark of each row of one event id, in arrival order, and the state to remember.

    A pure function (the state is passed in and handed back), so the rule is
    tested without a stream. A record without a place in the source (another
    producer) is judged by its bytes alone: same bytes, a redelivery.
    """
    order = rows.sort_values(["arrival_ts", "shard_id", "sequence_number"], kind="stable").index
    marks = pd.Series(FIRST, index=rows.index, dtype=object)
    positions = list(kept_positions or [])
    for i in order:
        if rows.at[i, "format"] in _NOT_EVENTS:
            continue  # a per-record id: nothing to deduplicate, nothing to remember
        sha = _sha(rows.at[i, "payload"])
        where = _position(rows.loc[i])
        if kept_sha is None:
            kept_sha = sha
        elif sha != kept_sha:
            marks.at[i] = CONFLICT
            continue
        elif where is None or where in positions:
            marks.at[i] = REDELIVERED
            continue
        else:
            marks.at[i] = DUPLICATE
        if where is not None and len(positions) < MAX_POSITIONS:
            positions.append(where)
    return marks, kept_sha, positions


def mark_redeliveries(bronze: DataFrame, ttl_hours: float) -> DataFrame:
    """``bronze`` rows plus ``delivery``, with each event id's first payload kept in state.

    A static DataFrame (one batch replayed by hand, a test) has no state: the
    same rule runs with nothing remembered, so copies within it are still marked.
    """
    # A new StructType: ``schema.add`` would change the DataFrame's cached schema in place.
    out_schema = StructType([*bronze.schema.fields, StructField("delivery", StringType())])
    if not bronze.isStreaming:

        def per_event_once(rows: pd.DataFrame) -> pd.DataFrame:
            return rows.assign(delivery=mark_deliveries(rows, None)[0].values)

        return bronze.groupBy("event_id").applyInPandas(per_event_once, out_schema)
    ttl_ms = int(ttl_hours * 3600 * 1000)

    def per_event(key: tuple, batches: Iterator[pd.DataFrame], state: GroupState) -> Iterator[pd.DataFrame]:
        if state.hasTimedOut:
            state.remove()
            return
        rows = pd.concat(list(batches), ignore_index=True)
        kept, positions = state.get if state.exists else (None, None)
        marks, sha, positions = mark_deliveries(rows, kept, list(positions) if positions is not None else None)
        if sha is not None:
            state.update((sha, positions))
            state.setTimeoutDuration(ttl_ms)
        yield rows.assign(delivery=marks.values)

    return bronze.groupBy("event_id").applyInPandasWithState(
        per_event, out_schema, STATE_SCHEMA, "append", GroupStateTimeout.ProcessingTimeTimeout
    )


def as_bronze(marked: DataFrame) -> DataFrame:
    """Marked rows as they land in bronze: a conflicting copy is kept whole under its own record id,
    with the format that sends it to quarantine as ``event_id_conflict`` (as ``bronze_from_kinesis``
    does for an id that is not its line's)."""
    conflict = F.col("delivery") == CONFLICT
    whole_id = F.concat_ws(":", F.lit("kinesis"), F.col("shard_id"), F.col("sequence_number"))
    return marked.withColumn("event_id", F.when(conflict, whole_id).otherwise(F.col("event_id"))).withColumn(
        "format", F.when(conflict, F.lit(ID_CONFLICT_FORMAT)).otherwise(F.col("format"))
    )


def to_parse(bronze: DataFrame) -> DataFrame:
    """The bronze rows that go on to parsing (a redelivered copy is accounted for in bronze only)."""
    return bronze.where(F.col("delivery") != REDELIVERED)


def kept_before(parsing: DataFrame) -> DataFrame:
    """Event ids (of the rows ``to_parse`` keeps) whose every copy is a ``duplicate``: the event
    reached silver in an earlier batch, so its valid copies here are duplicates, not new events."""
    return (
        parsing.groupBy("event_id")
        .agg(F.bool_and(F.col("delivery") == DUPLICATE).alias("only_duplicates"))
        .where("only_duplicates")
        .select("event_id")
    )
