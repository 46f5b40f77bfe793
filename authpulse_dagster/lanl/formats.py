"""The LANL line formats AuthPulse reads, described once.

Readers, the Spark parsers and the replay producer all need the same facts
(format names, field counts, column names, the missing-value marker, the hard
line cap), so they live here rather than being repeated as literals.
"""

from __future__ import annotations

from authpulse_dagster.errors import ConfigError

LANL2014 = "lanl2014"
LANL2015 = "lanl2015"
FORMATS: tuple[str, ...] = (LANL2014, LANL2015)

# Column names in file order; the first field is always the time in whole
# seconds since the dataset start.
COLUMNS: dict[str, tuple[str, ...]] = {
    LANL2014: ("time", "user", "computer"),
    LANL2015: (
        "time",
        "src_user",
        "dst_user",
        "src_computer",
        "dst_computer",
        "auth_type",
        "logon_type",
        "orientation",
        "success",
    ),
}
FIELD_COUNTS: dict[str, int] = {fmt: len(cols) for fmt, cols in COLUMNS.items()}

# LANL 2015's success is one of these two words.
SUCCESS_VALUES: tuple[str, ...] = ("Success", "Fail")

# No line is ever held in memory beyond this many bytes: longer lines are
# truncated to it (their true length is still reported). The event-id rule
# also uses it, so it belongs to the format, not to one reader.
LINE_HARD_CAP = 1 << 20


def validate_format(fmt: str) -> str:
    """Return ``fmt`` if it names a supported format, else raise ConfigError."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return fmt
