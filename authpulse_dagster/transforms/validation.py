"""Parsing and validation of raw LANL records, as pure Spark column logic.

``parse_records`` adds the parsed fields and a ``reason`` column to a bronze
DataFrame: null for a valid record, else the first rule it breaks. The
reason codes are part of the public contract (README, quarantine table):

==========================  ==================================================
``non_utf8``                payload bytes are not valid UTF-8
``line_too_long``           record longer than ``max_line_bytes``
``blank_line``              nothing but whitespace
``header_line``             a header such as ``time,user,computer``
``wrong_field_count``       not 3 (lanl2014) or 9 (lanl2015) comma-separated fields
``time_negative``           time field is a negative integer
``time_not_integer``        time field is not a base-10 integer
``time_out_of_range``       time beyond ``max_dataset_seconds``
``empty_user``              user field empty
``malformed_user``          user not ``U<digits>`` (2014) / ``name@domain`` (2015)
``empty_computer``          computer field empty
``malformed_computer``      computer not ``C<digits>`` (2014) / a host name (2015)
``unknown_success_value``   2015 success field not ``Success`` or ``Fail``
``unknown_format``          the record's declared format is not known
``bad_record``              a stream record that is not an ``authpulse.lanl.v1`` JSON object
``event_id_conflict``       a stream record whose ``event_id`` is not the id of its own line
==========================  ==================================================

Whatever the bytes, this never raises: ``detail`` is always valid UTF-8 (the
quarantine table stores it as a string) and ``event_ts`` is computed only for
a time inside the dataset range, so no epoch + seconds can overflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

REASONS = (
    "non_utf8",
    "line_too_long",
    "blank_line",
    "header_line",
    "wrong_field_count",
    "time_negative",
    "time_not_integer",
    "time_out_of_range",
    "empty_user",
    "malformed_user",
    "empty_computer",
    "malformed_computer",
    "unknown_success_value",
    "unknown_format",
    "bad_record",
    "event_id_conflict",
)

# Format given to stream records that could not be decoded (see live/stream_transforms.py).
BAD_RECORD_FORMAT = "bad_record"
# Format given to stream records whose event_id does not belong to their line (kept whole, like bad records).
ID_CONFLICT_FORMAT = "event_id_conflict"
# Spark timestamps end with year 9999; no dataset time may reach past it, whatever the settings say.
_LAST_TIMESTAMP = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)

FIELD_COUNTS = {"lanl2014": 3, "lanl2015": 9}
HEADER_TOKENS = ("time", "timestamp", "ts")
USER_2014 = r"^U[0-9]+$"
COMPUTER_2014 = r"^C[0-9]+$"
# 2015 users are name@domain; machine accounts end in '$' and some names hold spaces (ANONYMOUS LOGON).
USER_2015 = r"^[^@,]+@[^@,]+$"
COMPUTER_2015 = r"^[A-Za-z0-9][A-Za-z0-9$._-]*$"
SUCCESS_VALUES = ("Success", "Fail")


@dataclass(frozen=True)
class ParseOptions:
    epoch: datetime
    max_line_bytes: int = 1024
    max_dataset_seconds: int = 3 * 365 * 86400


def time_limit(opts: ParseOptions) -> int:
    """The largest valid dataset time: ``max_dataset_seconds``, capped so epoch + time stays a timestamp."""
    return max(0, min(opts.max_dataset_seconds, int((_LAST_TIMESTAMP - opts.epoch).total_seconds())))


def _field(fields: Column, i: int) -> Column:
    return F.trim(F.get(fields, i))


def _first_failure(checks: list[tuple[str, Column, Column | None]]) -> tuple[Column, Column]:
    """Turn ordered (reason, failed?, detail) checks into reason and detail columns."""
    reason = F.lit(None).cast("string")
    detail = F.lit(None).cast("string")
    for code, failed, what in reversed(checks):
        reason = F.when(failed, F.lit(code)).otherwise(reason)
        detail = F.when(failed, what if what is not None else F.lit(None).cast("string")).otherwise(detail)
    return reason, detail


def parse_records(raw: DataFrame, opts: ParseOptions) -> DataFrame:
    """Add parsed fields, ``reason`` and ``detail`` to bronze rows (no rows added or removed).

    Three stages, each referring to the previous one's columns, so every field
    is extracted once and each regex runs once per row (one flat expression
    would be inlined into every check and be too large for Spark's codegen).
    """
    is_2015 = F.col("format") == "lanl2015"
    text = F.col("payload").cast("string")
    fields = F.split(text, ",", -1)
    extracted = raw.select(
        *raw.columns,
        text.alias("_text"),
        F.size(fields).alias("_n"),
        F.when(F.col("format") == "lanl2014", F.lit(3)).when(is_2015, F.lit(9)).alias("_expected"),
        _field(fields, 0).alias("_time"),
        _field(fields, 1).alias("_user"),
        F.when(is_2015, _field(fields, 2)).alias("_dst_user"),
        F.when(is_2015, _field(fields, 3)).alias("_src_computer"),
        F.when(is_2015, _field(fields, 4)).otherwise(_field(fields, 2)).alias("_computer"),
        F.when(is_2015, _field(fields, 5)).alias("_auth_type"),
        F.when(is_2015, _field(fields, 6)).alias("_logon_type"),
        F.when(is_2015, _field(fields, 7)).alias("_orientation"),
        F.when(is_2015, _field(fields, 8)).alias("_success"),
    )

    c = F.col
    is_2015 = c("format") == "lanl2015"
    time_val = F.expr("try_cast(_time AS BIGINT)")
    limit = time_limit(opts)
    checks: list[tuple[str, Column, Column | None]] = [
        ("bad_record", c("format") == BAD_RECORD_FORMAT, F.substring(c("_text"), 1, 200)),
        ("event_id_conflict", c("format") == ID_CONFLICT_FORMAT, F.substring(c("_text"), 1, 200)),
        ("unknown_format", c("_expected").isNull(), c("format")),
        ("non_utf8", ~F.expr("is_valid_utf8(_text)"), None),
        ("line_too_long", c("payload_size") > F.lit(opts.max_line_bytes), c("payload_size").cast("string")),
        ("blank_line", F.trim(c("_text")) == "", None),
        ("header_line", F.lower(c("_time")).isin(*HEADER_TOKENS), F.substring(c("_text"), 1, 200)),
        ("wrong_field_count", c("_n") != c("_expected"), c("_n").cast("string")),
        ("time_negative", c("_time").rlike(r"^-[0-9]+$"), c("_time")),
        ("time_not_integer", ~c("_time").rlike(r"^[0-9]+$"), F.substring(c("_time"), 1, 100)),
        ("time_out_of_range", time_val.isNull() | (time_val > F.lit(limit)), F.substring(c("_time"), 1, 100)),
        ("empty_user", c("_user") == "", None),
        (
            "malformed_user",
            F.when(is_2015, ~c("_user").rlike(USER_2015) | ~c("_dst_user").rlike(USER_2015)).otherwise(~c("_user").rlike(USER_2014)),
            F.substring(c("_user"), 1, 100),
        ),
        ("empty_computer", c("_computer") == "", None),
        (
            "malformed_computer",
            F.when(
                is_2015,
                ~c("_computer").rlike(COMPUTER_2015) | ~(c("_src_computer").rlike(COMPUTER_2015) | (c("_src_computer") == "?")),
            ).otherwise(~c("_computer").rlike(COMPUTER_2014)),
            F.substring(c("_computer"), 1, 100),
        ),
        ("unknown_success_value", is_2015 & ~c("_success").isin(*SUCCESS_VALUES), F.substring(c("_success"), 1, 100)),
    ]
    # Stage two evaluates each check once into a flag; stage three picks the first failing one.
    flagged = extracted.select("*", *[failed.alias(f"_fail_{code}") for code, failed, _ in checks])
    reason, detail = _first_failure([(code, c(f"_fail_{code}"), what) for code, _, what in checks])
    # A detail cut from invalid UTF-8 (or cut inside a character) must not fail the quarantine write.
    detail = F.make_valid_utf8(detail)

    epoch_seconds = int(opts.epoch.timestamp())
    parsed_time = F.expr("try_cast(_time AS BIGINT)")
    in_range = (parsed_time >= 0) & (parsed_time <= F.lit(limit))
    src_user = F.split(c("_user"), "@", 2)

    def missing_as_null(col: str) -> Column:
        return F.when(c(col) != "?", c(col))

    return flagged.select(
        *raw.columns,
        reason.alias("reason"),
        detail.alias("detail"),
        parsed_time.alias("parsed_time"),
        F.when(in_range, F.timestamp_seconds(F.lit(epoch_seconds) + parsed_time)).alias("event_ts"),
        F.when(is_2015, F.get(src_user, 0)).otherwise(c("_user")).alias("user_id"),
        F.when(is_2015, F.get(src_user, 1)).alias("user_domain"),
        c("_computer").alias("computer_id"),
        missing_as_null("_src_computer").alias("src_computer_id"),
        F.get(F.split(c("_dst_user"), "@", 2), 0).alias("dst_user_id"),
        missing_as_null("_auth_type").alias("auth_type"),
        missing_as_null("_logon_type").alias("logon_type"),
        missing_as_null("_orientation").alias("orientation"),
        F.when(is_2015, c("_success") == "Success").otherwise(F.lit(True)).alias("success"),
    )
