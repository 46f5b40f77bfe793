"""Every AuthPulse Iceberg table, defined in one place.

Each table is an explicit Iceberg schema with a doc on every field, a day
partition on ``event_date`` and the sort order its writer applies. Spark
creates the tables from these definitions (``spark_tables.ensure_table``);
tables evolve only by adding fields at the end, which Spark adds with
``ALTER TABLE ... ADD COLUMN`` (older files read them as null).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyiceberg.schema import Schema
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    ListType,
    LongType,
    NestedField,
    StringType,
    TimestamptzType,
)

NAMESPACE = "authpulse"


@dataclass(frozen=True)
class TableDef:
    name: str
    layer: str
    description: str
    schema: Schema
    sort_by: tuple[str, ...]
    # Identity partitions; every table has event_date (daily Dagster partitions).
    partition_by: tuple[str, ...] = ("event_date",)

    @property
    def identifier(self) -> str:
        return f"{NAMESPACE}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [f.name for f in self.schema.fields]


def _f(field_id: int, name: str, type_, doc: str, required: bool = False) -> NestedField:
    return NestedField(field_id=field_id, name=name, field_type=type_, required=required, doc=doc)


RAW_EVENTS = TableDef(
    name="raw_events",
    layer="bronze",
    description="Every record as received, nothing dropped: payload bytes plus where it came from.",
    schema=Schema(
        _f(1, "event_id", StringType(), "Deterministic id of the line (blake2b of line + occurrence)", True),
        _f(2, "payload", BinaryType(), "The record exactly as received (line without newline)", True),
        _f(3, "payload_size", LongType(), "True byte length of the record (payload is capped at 1 MiB)", True),
        _f(4, "source", StringType(), "Where it came from: 'file' or 'kinesis'", True),
        _f(5, "format", StringType(), "Declared input format: lanl2014 or lanl2015", True),
        _f(6, "source_file", StringType(), "File path for file sources"),
        _f(7, "line_number", LongType(), "1-based line number in the decompressed file"),
        _f(8, "dataset_time", LongType(), "Leading time field if it is a valid integer, else null"),
        _f(9, "shard_id", StringType(), "Kinesis shard id for stream sources"),
        _f(10, "sequence_number", StringType(), "Kinesis sequence number for stream sources"),
        _f(11, "arrival_ts", TimestamptzType(), "Kinesis approximate arrival time"),
        _f(12, "event_date", DateType(), "Day the record belongs to (its own time, else the last valid time before it)", True),
        _f(13, "ingested_at", TimestamptzType(), "When AuthPulse landed the record", True),
    ),
    sort_by=("source_file", "line_number"),
    # By source too, so a file re-ingest replaces its own rows and never the stream's (and compaction never mixes them).
    partition_by=("event_date", "source"),
)

QUARANTINE = TableDef(
    name="quarantine",
    layer="silver",
    description="Records that failed parsing or validation, each with a machine-readable reason.",
    schema=Schema(
        _f(1, "event_id", StringType(), "Id of the bronze record", True),
        _f(2, "event_date", DateType(), "Bronze day of the record", True),
        _f(3, "reason", StringType(), "Reason code, e.g. wrong_field_count (see README)", True),
        _f(4, "detail", StringType(), "Human-readable detail (offending value)"),
        _f(5, "payload", BinaryType(), "The raw record bytes", True),
        _f(6, "payload_text", StringType(), "The record as UTF-8 text, invalid bytes replaced"),
        _f(7, "format", StringType(), "Declared input format"),
        _f(8, "source", StringType(), "file or kinesis"),
        _f(9, "source_file", StringType(), "File path for file sources"),
        _f(10, "line_number", LongType(), "Line number for file sources"),
        _f(11, "ingested_at", TimestamptzType(), "When the record was landed in bronze"),
    ),
    sort_by=("reason", "line_number"),
)

AUTH_EVENTS = TableDef(
    name="auth_events",
    layer="silver",
    description="Parsed, validated authentications, deduplicated on event_id, enriched with time features.",
    schema=Schema(
        _f(1, "event_id", StringType(), "Deterministic event id (unique)", True),
        _f(2, "event_ts", TimestamptzType(), "Event time: dataset epoch + dataset_time seconds", True),
        _f(3, "event_date", DateType(), "UTC day of event_ts (partition)", True),
        _f(4, "dataset_time", LongType(), "Seconds since the dataset start, as in the file", True),
        _f(5, "user_id", StringType(), "Authenticating user (2015: source user without @domain)", True),
        _f(6, "user_domain", StringType(), "Domain of the user (2015 only)"),
        _f(7, "computer_id", StringType(), "Computer authenticated to (2015: destination computer)", True),
        _f(8, "src_computer_id", StringType(), "Source computer (2015 only; null for 2014)"),
        _f(9, "dst_user_id", StringType(), "Destination user (2015 only)"),
        _f(10, "auth_type", StringType(), "Authentication package, e.g. Kerberos (2015 only)"),
        _f(11, "logon_type", StringType(), "Logon type, e.g. Network (2015 only)"),
        _f(12, "orientation", StringType(), "LogOn, LogOff, TGS, TGT... (2015 only)"),
        _f(13, "success", BooleanType(), "True if the authentication succeeded (2014 rows are all successes)", True),
        _f(14, "event_hour", IntegerType(), "UTC hour of day of event_ts (0-23)", True),
        _f(15, "day_of_week", IntegerType(), "ISO day of week of event_ts (1=Monday .. 7=Sunday)", True),
        _f(16, "source", StringType(), "file or kinesis", True),
        _f(17, "format", StringType(), "lanl2014 or lanl2015", True),
        _f(18, "ingested_at", TimestamptzType(), "When the record was landed in bronze", True),
    ),
    sort_by=("event_ts", "user_id"),
)

USER_HOST_DAILY = TableDef(
    name="user_host_daily",
    layer="gold",
    description="One row per user, computer and day: the compact access history the lookbacks read.",
    schema=Schema(
        _f(1, "user_id", StringType(), "User", True),
        _f(2, "computer_id", StringType(), "Computer", True),
        _f(3, "event_date", DateType(), "Day", True),
        _f(4, "events", LongType(), "Authentications of the user to the computer that day", True),
        _f(5, "first_seen", TimestamptzType(), "First authentication that day", True),
        _f(6, "last_seen", TimestamptzType(), "Last authentication that day", True),
    ),
    sort_by=("user_id", "computer_id"),
)

USER_BEHAVIOR = TableDef(
    name="user_behavior",
    layer="gold",
    description="Per user: activity per day and per 5-minute and 1-hour tumbling window.",
    schema=Schema(
        _f(1, "user_id", StringType(), "User", True),
        _f(2, "event_date", DateType(), "Day of the window", True),
        _f(3, "window", StringType(), "Window size: '5m', '1h' or '1d'", True),
        _f(4, "window_start", TimestamptzType(), "Window start (inclusive)", True),
        _f(5, "window_end", TimestamptzType(), "Window end (exclusive)", True),
        _f(6, "events", LongType(), "Authentications in the window", True),
        _f(7, "distinct_computers", LongType(), "Distinct computers in the window", True),
        _f(8, "new_computers", LongType(), "Computers first used in this window and not used in the lookback days before", True),
        _f(9, "first_seen", TimestamptzType(), "First authentication in the window", True),
        _f(10, "last_seen", TimestamptzType(), "Last authentication in the window", True),
    ),
    sort_by=("user_id", "window", "window_start"),
)

HOST_POPULARITY = TableDef(
    name="host_popularity",
    layer="gold",
    description="Per computer and day: how many users use it, today and over the lookback, and how rare it is.",
    schema=Schema(
        _f(1, "computer_id", StringType(), "Computer", True),
        _f(2, "event_date", DateType(), "Day", True),
        _f(3, "distinct_users", LongType(), "Distinct users that day", True),
        _f(4, "events", LongType(), "Authentications that day", True),
        _f(5, "distinct_users_lookback", LongType(), "Distinct users over the lookback window ending that day", True),
        _f(6, "active_users_lookback", LongType(), "Distinct users of any computer over the same window", True),
        _f(7, "rarity", DoubleType(), "ln((1 + active_users_lookback) / (1 + distinct_users_lookback)); higher is rarer", True),
    ),
    sort_by=("computer_id",),
)

USER_ROUTE_DAILY = TableDef(
    name="user_route_daily",
    layer="gold",
    description="LANL 2015: one row per user, source computer, destination computer and day (the route history).",
    schema=Schema(
        _f(1, "user_id", StringType(), "User", True),
        _f(2, "src_computer_id", StringType(), "Source computer", True),
        _f(3, "computer_id", StringType(), "Destination computer", True),
        _f(4, "event_date", DateType(), "Day", True),
        _f(5, "events", LongType(), "Authentications on this route that day", True),
        _f(6, "failures", LongType(), "Failed authentications on this route that day", True),
        _f(7, "first_seen", TimestamptzType(), "First authentication that day", True),
        _f(8, "last_seen", TimestamptzType(), "Last authentication that day", True),
    ),
    sort_by=("user_id", "src_computer_id", "computer_id"),
)

LATE_EVENTS = TableDef(
    name="late_events",
    layer="silver",
    description="Valid events the streaming job received behind its watermark: kept in bronze, left out of silver, "
    "listed here so a backfill can rebuild their days.",
    schema=Schema(
        _f(1, "event_id", StringType(), "Event id", True),
        _f(2, "event_date", DateType(), "Day of the event (the partition a backfill must rebuild)", True),
        _f(3, "event_ts", TimestamptzType(), "Event time", True),
        _f(4, "watermark", TimestamptzType(), "The job's watermark when the event arrived", True),
        _f(5, "batch_id", LongType(), "Streaming micro-batch that received it", True),
        _f(6, "arrival_ts", TimestamptzType(), "Kinesis approximate arrival time"),
    ),
    sort_by=("event_ts",),
)

def _strings(element_id: int) -> ListType:
    return ListType(element_id=element_id, element_type=StringType(), element_required=False)


RISK_SCORES = TableDef(
    name="risk_scores",
    layer="gold",
    description="One row per authentication: its risk score (0-100), the rules that fired and the model version.",
    schema=Schema(
        _f(1, "event_id", StringType(), "Event id (as in auth_events)", True),
        _f(2, "event_ts", TimestamptzType(), "Event time", True),
        _f(3, "event_date", DateType(), "Day of the event (partition)", True),
        _f(4, "user_id", StringType(), "User", True),
        _f(5, "computer_id", StringType(), "Computer authenticated to", True),
        _f(6, "src_computer_id", StringType(), "Source computer (LANL 2015 only)"),
        _f(7, "score", IntegerType(), "Risk score 0-100: 100 * (1 - prod(1 - weight)) over the rules that fired", True),
        _f(8, "reasons", _strings(100), "Names of the rules that fired, strongest first", True),
        _f(9, "model_version", StringType(), "Version of the rule set and weights that produced the score", True),
    ),
    sort_by=("user_id", "event_ts"),
)

USER_RISK_DAILY = TableDef(
    name="user_risk_daily",
    layer="gold",
    description="One row per active user and day: the accumulated, decaying risk score and what drove it.",
    schema=Schema(
        _f(1, "user_id", StringType(), "User", True),
        _f(2, "event_date", DateType(), "Day (partition)", True),
        _f(3, "risk_score", DoubleType(), "Accumulated score: sum over the decay window of day_score * decay^age, capped at 100", True),
        _f(4, "day_score", DoubleType(), "This day's contribution (from the user's highest event scores that day)", True),
        _f(5, "max_event_score", IntegerType(), "Highest event score of the day", True),
        _f(6, "high_risk_events", LongType(), "Events scoring at or above the high-risk threshold", True),
        _f(7, "events", LongType(), "Events of the user that day", True),
        _f(8, "top_reasons", _strings(100), "Most frequent reasons among the day's high-risk events", True),
        _f(9, "model_version", StringType(), "Model version", True),
    ),
    sort_by=("user_id",),
)

ALERTS = TableDef(
    name="alerts",
    layer="gold",
    description="One alert per user and day whose risk crossed the alert threshold; updated, never repeated.",
    schema=Schema(
        _f(1, "alert_id", StringType(), "Deterministic id: hash of user and window (day)", True),
        _f(2, "user_id", StringType(), "User", True),
        _f(3, "event_date", DateType(), "Day of the alert window (partition)", True),
        _f(4, "created_at", TimestamptzType(), "When this alert was first written (kept across rebuilds)", True),
        _f(5, "severity", StringType(), "medium, high or critical (thresholds in risk/config.py)", True),
        _f(6, "score", DoubleType(), "The user's risk score for the day", True),
        _f(7, "reasons", _strings(100), "Top reasons", True),
        _f(8, "first_event_ts", TimestamptzType(), "First high-risk event in the window", True),
        _f(9, "last_event_ts", TimestamptzType(), "Last high-risk event in the window", True),
        _f(10, "event_ids", _strings(101), "High-risk events in the window (at most 100, highest scores first)", True),
        _f(11, "updated_at", TimestamptzType(), "When the alert's content was last computed"),
        _f(12, "model_version", StringType(), "Model version"),
        _f(13, "entity_type", StringType(), "What the alert is about: 'user' or 'host' (null on alerts written before hosts)"),
        _f(14, "entity_id", StringType(), "The user or computer the alert is about"),
        _f(15, "related_users", _strings(102), "Host alerts: users seen on the host for the first time that day, riskiest first"),
    ),
    sort_by=("user_id",),
)

HOST_RISK_DAILY = TableDef(
    name="host_risk_daily",
    layer="gold",
    description="One row per active computer and day: the host as an entity (users it sees for the first time "
    "against its own history and its peers, new sources, the evidence of the users on it) and its decaying risk.",
    schema=Schema(
        _f(1, "computer_id", StringType(), "Computer", True),
        _f(2, "event_date", DateType(), "Day (partition)", True),
        _f(3, "users_in", LongType(), "Distinct users authenticating to it that day", True),
        _f(4, "new_users_in", LongType(), "...of which not seen on it in the lookback", True),
        _f(5, "new_sources_in", LongType(), "Distinct source computers (LANL 2015) not seen reaching it in the lookback", True),
        _f(6, "users_out", LongType(), "Distinct users starting remote logons from it (LANL 2015)", True),
        _f(7, "new_users_out", LongType(), "...of which never started from it in the lookback", True),
        _f(8, "expected_in", DoubleType(), "New users in a normal day: max(own history, peers), plus margin"),
        _f(9, "expected_out", DoubleType(), "Same for users starting from it"),
        _f(10, "evidence", DoubleType(), "Risk of the events of users new to it (user to host flow)", True),
        _f(11, "day_score", DoubleType(), "This day's host score (0-100)", True),
        _f(12, "risk_score", DoubleType(), "Accumulated score: day scores of the decay window * decay^age, capped at 100", True),
        _f(13, "related_users", _strings(100), "Users new to it that day, riskiest first (at most hosts.max_related_users)", True),
        _f(14, "top_reasons", _strings(101), "What drove the day score", True),
        _f(15, "model_version", StringType(), "Model version", True),
        _f(16, "related_evidence", ListType(element_id=102, element_type=DoubleType(), element_required=False),
           "Each related user's evidence on it, in related_users' order (what the host to user flow leaves out)"),
    ),
    sort_by=("computer_id",),
)

ALERT_DELIVERIES = TableDef(
    name="alert_deliveries",
    layer="gold",
    description="Ledger of alert messages published to SNS: one row per alert and severity, so nothing is sent twice.",
    schema=Schema(
        _f(1, "alert_id", StringType(), "Alert id", True),
        _f(2, "event_date", DateType(), "Day of the alert (partition)", True),
        _f(3, "severity", StringType(), "Severity that was announced", True),
        _f(4, "message_id", StringType(), "SNS message id", True),
        _f(5, "topic_arn", StringType(), "Topic it went to", True),
        _f(6, "sent_at", TimestamptzType(), "When it was published", True),
        _f(7, "path", StringType(), "batch or stream", True),
    ),
    sort_by=("alert_id",),
)

TABLES: dict[str, TableDef] = {
    t.name: t
    for t in (
        RAW_EVENTS,
        QUARANTINE,
        AUTH_EVENTS,
        USER_HOST_DAILY,
        USER_BEHAVIOR,
        HOST_POPULARITY,
        USER_ROUTE_DAILY,
        LATE_EVENTS,
        RISK_SCORES,
        USER_RISK_DAILY,
        ALERTS,
        ALERT_DELIVERIES,
        HOST_RISK_DAILY,
    )
}
