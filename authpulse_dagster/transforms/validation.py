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
==========================  ==================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
)

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


def _field(fields: Column, i: int) -> Column:
    return F.trim(F.get(fields, i))


def _first_failure(checks: list[tuple[Column, str, Column | None]]) -> tuple[Column, Column]:
    """Turn ordered (failed?, reason, detail) checks into reason and detail columns."""
    reason = F.lit(None).cast("string")
    detail = F.lit(None).cast("string")
    for failed, code, what in reversed(checks):
        reason = F.when(failed, F.lit(code)).otherwise(reason)
        detail = F.when(failed, what if what is not None else F.lit(None).cast("string")).otherwise(detail)
    return reason, detail


def parse_records(raw: DataFrame, opts: ParseOptions) -> DataFrame:
    """Add parsed fields, ``reason`` and ``detail`` to bronze rows (no rows added or removed)."""
    text = F.col("_text")
    fields = F.col("_fields")
    fmt = F.col("format")
    is_2015 = fmt == "lanl2015"
    time_raw = _field(fields, 0)
    user_raw = _field(fields, 1)
    computer_raw = F.when(is_2015, _field(fields, 4)).otherwise(_field(fields, 2))
    n_fields = F.size(fields)
    expected = F.when(fmt == "lanl2014", F.lit(3)).when(is_2015, F.lit(9))
    time_val = F.expr("try_cast(trim(get(_fields, 0)) AS BIGINT)")
    success_raw = _field(fields, 8)

    checks: list[tuple[Column, str, Column | None]] = [
        (expected.isNull(), "unknown_format", fmt),
        (~F.expr("is_valid_utf8(_text)"), "non_utf8", None),
        (F.col("payload_size") > F.lit(opts.max_line_bytes), "line_too_long", F.col("payload_size").cast("string")),
        (F.trim(text) == "", "blank_line", None),
        (F.lower(time_raw).isin(*HEADER_TOKENS), "header_line", F.substring(text, 1, 200)),
        (n_fields != expected, "wrong_field_count", n_fields.cast("string")),
        (time_raw.rlike(r"^-[0-9]+$"), "time_negative", time_raw),
        (~time_raw.rlike(r"^[0-9]+$"), "time_not_integer", F.substring(time_raw, 1, 100)),
        (time_val.isNull() | (time_val > F.lit(opts.max_dataset_seconds)), "time_out_of_range", time_raw),
        (user_raw == "", "empty_user", None),
        (
            F.when(is_2015, ~user_raw.rlike(USER_2015) | ~_field(fields, 2).rlike(USER_2015)).otherwise(~user_raw.rlike(USER_2014)),
            "malformed_user",
            F.substring(user_raw, 1, 100),
        ),
        (computer_raw == "", "empty_computer", None),
        (
            F.when(
                is_2015,
                ~computer_raw.rlike(COMPUTER_2015)
                | ~(_field(fields, 3).rlike(COMPUTER_2015) | (_field(fields, 3) == "?")),
            ).otherwise(~computer_raw.rlike(COMPUTER_2014)),
            "malformed_computer",
            F.substring(computer_raw, 1, 100),
        ),
        (is_2015 & ~success_raw.isin(*SUCCESS_VALUES), "unknown_success_value", F.substring(success_raw, 1, 100)),
    ]
    reason, detail = _first_failure(checks)

    epoch_seconds = int(opts.epoch.timestamp())
    event_ts = F.timestamp_seconds(F.lit(epoch_seconds) + time_val)
    src_user = F.split(user_raw, "@", 2)

    def optional_2015(i: int) -> Column:
        v = _field(fields, i)
        return F.when(is_2015 & (v != "?"), v)

    return (
        raw.withColumn("_text", F.col("payload").cast("string"))
        .withColumn("_fields", F.split(F.col("_text"), ",", -1))
        .withColumn("reason", reason)
        .withColumn("detail", detail)
        .withColumn("parsed_time", F.when(F.col("reason").isNull(), time_val))
        .withColumn("event_ts", F.when(F.col("reason").isNull(), event_ts))
        .withColumn("user_id", F.when(F.col("reason").isNull(), F.when(is_2015, F.get(src_user, 0)).otherwise(user_raw)))
        .withColumn("user_domain", F.when(F.col("reason").isNull() & is_2015, F.get(src_user, 1)))
        .withColumn("computer_id", F.when(F.col("reason").isNull(), computer_raw))
        .withColumn("src_computer_id", F.when(F.col("reason").isNull(), optional_2015(3)))
        .withColumn("dst_user_id", F.when(F.col("reason").isNull() & is_2015, F.get(F.split(_field(fields, 2), "@", 2), 0)))
        .withColumn("auth_type", F.when(F.col("reason").isNull(), optional_2015(5)))
        .withColumn("logon_type", F.when(F.col("reason").isNull(), optional_2015(6)))
        .withColumn("orientation", F.when(F.col("reason").isNull(), optional_2015(7)))
        .withColumn("success", F.when(F.col("reason").isNull(), F.when(is_2015, success_raw == "Success").otherwise(F.lit(True))))
    )

