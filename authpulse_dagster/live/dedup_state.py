"""Redelivered records found in Structured Streaming state, not by rescanning silver.

What: the stream's bronze rows are grouped by ``event_id`` in the streaming
plan (``flatMapGroupsWithState`` on the JVM, RocksDB state store, kept in
the query's checkpoint). Each row leaves with a ``delivery`` mark:

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

from py4j.java_gateway import JavaClass
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from authpulse_dagster.errors import EnvironmentProblem

from authpulse_dagster.transforms.validation import BAD_RECORD_FORMAT, ID_CONFLICT_FORMAT

FIRST, REDELIVERED, DUPLICATE, CONFLICT = "first", "redelivered", "duplicate", "conflict"
ROCKSDB = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
# The operator, in jvm/src (built into .jars by `make jars`, shipped to EMR with the archive).
OPERATOR = "dev.authpulse.streaming.DeliveryMarks"
# Places in the source remembered per event id: a line repeated more often than this is still
# parsed once per line; a retry of one of its later copies is then parsed again (a second
# quarantine row for a damaged line, nothing for a valid one, which silver already holds).
MAX_POSITIONS = 64
_NOT_EVENTS = (BAD_RECORD_FORMAT, ID_CONFLICT_FORMAT)


def mark_redeliveries(bronze: DataFrame, ttl_hours: float) -> DataFrame:
    """``bronze`` rows plus ``delivery``, with each event id's first payload kept in state.

    The rule (above) runs on the JVM (``jvm/src/.../DeliveryMarks.java``,
    ``flatMapGroupsWithState`` keyed by ``event_id``): Python's grouped-state
    operators build a pandas frame per key, which cost ~5 ms per event id and
    held the stream to ~100 events/s on two cores. Rows of one id are judged
    in arrival order (``arrival_ts``, ``shard_id``, ``sequence_number``); the
    state is the first copy's SHA-256 and up to ``MAX_POSITIONS`` places.

    A static DataFrame (one batch replayed by hand, a test) has no state: the
    same rule runs with nothing remembered, so copies within it are still marked.
    """
    spark = bronze.sparkSession
    gateway = spark.sparkContext._gateway
    not_events = gateway.new_array(gateway.jvm.java.lang.String, len(_NOT_EVENTS))
    for i, fmt in enumerate(_NOT_EVENTS):
        not_events[i] = fmt
    operator = gateway.jvm
    for part in OPERATOR.split("."):
        operator = getattr(operator, part)
    if not isinstance(operator, JavaClass):  # py4j hands back a package for a class it cannot find
        raise EnvironmentProblem(f"{OPERATOR} is not on Spark's classpath; run 'make jars' (on EMR: rebuild and upload the package)")
    ttl_ms = int(ttl_hours * 3600 * 1000)
    return DataFrame(operator.mark(bronze._jdf, ttl_ms, not_events, MAX_POSITIONS), spark)


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
