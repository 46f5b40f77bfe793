"""What a named query is: its header (description, typed parameters) and its SQL.

A query file is plain SQL that Athena (Trino) and DuckDB both accept. Its
leading ``--`` comment is the header: free text first (the first line is the
summary), then one line per parameter::

    -- @param day  date = latest(user_risk_daily)  Day to rank
    -- @param top  int[1,1000] = 20                 How many users
    -- @param user string                           (no default: required)

Types:

- ``date``: ``YYYY-MM-DD``, rendered as ``DATE 'YYYY-MM-DD'``. A default of
  ``latest(<table>)`` (and the value ``latest``) renders as
  ``(SELECT max(event_date) FROM authpulse.<table>)``, so a query works on any
  data without the analyst knowing which days exist.
- ``int[min,max]`` / ``float[min,max]``: numbers, bounds optional.
- ``string``: any text without control characters, rendered as a quoted literal.
- ``choice[a,b,c]``: one of the listed words, rendered as a quoted literal.

Values are validated and rendered by type here, never pasted as given, so a
``--param`` cannot change the statement (no SQL injection).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date

from authpulse_dagster.api.export import TRIAGE_TABLE
from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lakehouse.schemas import NAMESPACE, TABLES

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
TABLE_REFERENCE = re.compile(rf"\b{NAMESPACE}\.([A-Za-z_][A-Za-z0-9_]*)\b")
_PARAM_LINE = re.compile(
    r"^@param\s+(?P<name>[a-z_][a-z0-9_]*)\s+(?P<type>[a-z]+(?:\[[^\]]*\])?)"
    r"(?:\s*=\s*(?P<default>\S+))?(?:\s+(?P<doc>.*))?$"
)
_LATEST = re.compile(r"^latest\(([a-z_][a-z0-9_]*)\)$")
_TYPE = re.compile(r"^(?P<base>[a-z]+)(?:\[(?P<args>[^\]]*)\])?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT = re.compile(r"^[+-]?\d{1,18}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_STRING = 256
BASE_TYPES = ("date", "string", "int", "float", "choice")


@dataclass(frozen=True)
class QueryParam:
    """One typed parameter of a query."""

    name: str
    type: str  # date, string, int, float or choice
    default: str | None  # raw default as written in the header; None = required
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    latest_table: str | None = None  # for date params defaulting to latest(<table>)

    @property
    def required(self) -> bool:
        return self.default is None

    @property
    def range_label(self) -> str:
        """Bounds of a number parameter, e.g. ``1..1000`` (``..`` when unbounded)."""
        lo = "" if self.minimum is None else _number_text(self.minimum)
        hi = "" if self.maximum is None else _number_text(self.maximum)
        return f"{lo}..{hi}"

    @property
    def type_label(self) -> str:
        """The type as an analyst reads it, e.g. ``int 1..1000`` or ``one of low|high``."""
        if self.type == "choice":
            return "one of " + "|".join(self.choices)
        if self.type in ("int", "float") and (self.minimum is not None or self.maximum is not None):
            return f"{self.type} {self.range_label}"
        return self.type

    @property
    def default_label(self) -> str:
        if self.default is None:
            return "(required)"
        if self.latest_table:
            return f"latest day in {self.latest_table}"
        if self.type == "string" and self.default == "''":
            return "any"
        return self.default

    def render(self, query: str, raw: str | None) -> str:
        """The SQL literal for ``raw`` (or the default when ``raw`` is None)."""
        if raw is None:
            if self.default is None:
                raise ConfigError(f"query {query} needs --param {self.name}=<{self.type_label}>")
            raw = self.default
            if self.latest_table:
                raw = "latest"
            elif self.type == "string" and raw == "''":
                raw = ""
        return _RENDERERS[self.type](self, query, str(raw))


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _bad(param: QueryParam, query: str, raw: str, expected: str) -> ConfigError:
    shown = raw if len(raw) <= 40 else raw[:37] + "..."
    return ConfigError(f"query {query}: --param {param.name}={shown!r} is not {expected}")


def _render_date(param: QueryParam, query: str, raw: str) -> str:
    value = raw.strip()
    if param.latest_table and value.lower() == "latest":
        return f"(SELECT max(event_date) FROM {NAMESPACE}.{param.latest_table})"
    if not _DATE.match(value):
        raise _bad(param, query, raw, "a date (YYYY-MM-DD" + (" or latest)" if param.latest_table else ")"))
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise _bad(param, query, raw, "a valid calendar date") from None
    return f"DATE '{day.isoformat()}'"


def _check_bounds(param: QueryParam, query: str, raw: str, value: float) -> None:
    if (param.minimum is not None and value < param.minimum) or (param.maximum is not None and value > param.maximum):
        raise _bad(param, query, raw, f"within {param.range_label}")


def _render_int(param: QueryParam, query: str, raw: str) -> str:
    value = raw.strip()
    if not _INT.match(value):
        raise _bad(param, query, raw, "a whole number")
    number = int(value)
    _check_bounds(param, query, raw, number)
    # Parenthesised when negative so `1 - {{n}}` never becomes `1 - -3`.
    return str(number) if number >= 0 else f"({number})"


def _render_float(param: QueryParam, query: str, raw: str) -> str:
    try:
        number = float(raw.strip())
    except ValueError:
        raise _bad(param, query, raw, "a number") from None
    if not math.isfinite(number):
        raise _bad(param, query, raw, "a finite number")
    _check_bounds(param, query, raw, number)
    # Written as a DOUBLE literal with an exponent: both engines read it the same way.
    text = f"{number:.17g}"
    text = text if "e" in text else f"{text}e0"
    return text if number >= 0 else f"({text})"


def _quote(text: str) -> str:
    """A SQL string literal: Trino and DuckDB both treat '' as the only escape inside '...'."""
    return "'" + text.replace("'", "''") + "'"


def _render_string(param: QueryParam, query: str, raw: str) -> str:
    if _CONTROL.search(raw):
        raise _bad(param, query, raw, "text without control characters")
    if len(raw) > MAX_STRING:
        raise _bad(param, query, raw, f"at most {MAX_STRING} characters")
    return _quote(raw)


def _render_choice(param: QueryParam, query: str, raw: str) -> str:
    value = raw.strip().lower()
    if value not in param.choices:
        raise _bad(param, query, raw, "one of " + ", ".join(param.choices))
    return _quote(value)


_RENDERERS = {
    "date": _render_date,
    "int": _render_int,
    "float": _render_float,
    "string": _render_string,
    "choice": _render_choice,
}


@dataclass(frozen=True)
class QuerySpec:
    """A named query: header metadata plus the SQL body (header comment removed)."""

    name: str
    description: str
    params: tuple[QueryParam, ...]
    sql: str

    @property
    def summary(self) -> str:
        """The description's first paragraph on one line."""
        return " ".join(self.description.split("\n\n", 1)[0].split())

    @property
    def tables(self) -> tuple[str, ...]:
        """Tables the query reads (including those named by ``latest(...)`` defaults)."""
        return tables_in(self.sql + " " + " ".join(f"{NAMESPACE}.{p.latest_table}" for p in self.params if p.latest_table))

    def param(self, name: str) -> QueryParam:
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params) or "none"
        raise ConfigError(f"query {self.name} has no parameter {name!r}; its parameters: {known}")


def tables_in(sql: str) -> tuple[str, ...]:
    """Distinct ``authpulse.<table>`` names in ``sql``, in order of first mention."""
    seen: dict[str, None] = {}
    for match in TABLE_REFERENCE.finditer(_strip_comments(sql)):
        seen.setdefault(match.group(1), None)
    return tuple(seen)


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def _parse_type(name: str, type_text: str, default: str | None, where: str) -> dict:
    match = _TYPE.match(type_text)
    if not match or match.group("base") not in BASE_TYPES:
        raise ValueError(f"{where}: parameter {name} has unknown type {type_text!r} (known: {', '.join(BASE_TYPES)})")
    base, args = match.group("base"), match.group("args")
    out: dict = {"type": base}
    if base in ("int", "float") and args is not None:
        lo, _, hi = args.partition(",")
        out["minimum"] = float(lo) if lo.strip() else None
        out["maximum"] = float(hi) if hi.strip() else None
    elif base == "choice":
        choices = tuple(c.strip().lower() for c in (args or "").split(",") if c.strip())
        if not choices:
            raise ValueError(f"{where}: choice parameter {name} lists no choices")
        out["choices"] = choices
    elif args is not None:
        raise ValueError(f"{where}: type {base} of parameter {name} takes no arguments")
    if base == "date" and default is not None:
        latest = _LATEST.match(default)
        if latest:
            if latest.group(1) not in TABLES:
                raise ValueError(f"{where}: latest({latest.group(1)}) names no AuthPulse table")
            out["latest_table"] = latest.group(1)
    return out


def parse(name: str, text: str, where: str = "") -> QuerySpec:
    """Parse a query file. Raises ValueError for a malformed file (a bug, not a user error)."""
    where = where or f"{name}.sql"
    lines = text.splitlines()
    header: list[str] = []
    body_start = len(lines)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("--"):
            header.append(stripped[2:].strip())
            continue
        if stripped == "" and not header:
            continue
        body_start = i
        break
    description_lines: list[str] = []
    params: list[QueryParam] = []
    for entry in header:
        if entry.startswith("@param"):
            match = _PARAM_LINE.match(entry)
            if not match:
                raise ValueError(f"{where}: cannot parse parameter line {entry!r}")
            default = match.group("default")
            params.append(
                QueryParam(
                    name=match.group("name"),
                    default=default,
                    description=(match.group("doc") or "").strip(),
                    **_parse_type(match.group("name"), match.group("type"), default, where),
                )
            )
        elif not params:
            description_lines.append(entry)
    description = "\n".join(description_lines).strip()
    sql = "\n".join(lines[body_start:]).strip().rstrip(";").strip()
    if not description:
        raise ValueError(f"{where}: the header comment must start with a description")
    if not sql:
        raise ValueError(f"{where}: no SQL after the header")
    declared = [p.name for p in params]
    if len(set(declared)) != len(declared):
        raise ValueError(f"{where}: a parameter is declared twice: {declared}")
    used = set(PLACEHOLDER.findall(sql))
    if used - set(declared):
        raise ValueError(f"{where}: placeholders {sorted(used - set(declared))} are not declared with @param")
    if set(declared) - used:
        raise ValueError(f"{where}: parameters {sorted(set(declared) - used)} are declared but never used")
    spec = QuerySpec(name=name, description=description, params=tuple(params), sql=sql)
    unknown = [t for t in spec.tables if t not in TABLES and t != TRIAGE_TABLE]  # alert_triage: the SOC API's export
    if unknown:
        raise ValueError(f"{where}: reads unknown tables {unknown}")
    for p in params:
        if p.default is not None:
            p.render(name, None)  # a default that does not validate is a bug in the file
    return spec


def render_spec(spec: QuerySpec, values: dict[str, str]) -> str:
    """Substitute every placeholder with its validated, typed literal."""
    for key in values:
        spec.param(key)  # unknown parameter -> ConfigError
    literals = {p.name: p.render(spec.name, values.get(p.name)) for p in spec.params}
    return PLACEHOLDER.sub(lambda m: literals[m.group(1)], spec.sql)
