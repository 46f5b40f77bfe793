"""Printing a query result (an Arrow table) as an aligned table, CSV or JSON.

Engine-neutral on purpose: the local DuckDB runner and the Athena runner both
hand back Arrow, and ``authpulse query`` prints either the same way.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

FORMATS = ("table", "csv", "json")
MAX_CELL = 60  # table cells longer than this are cut, so one long list cannot wreck the layout


def cell_text(value: Any) -> str:
    """One value as an analyst reads it: ISO times in UTC, lists comma-joined, nulls empty."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else repr(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(cell_text(v) for v in value)
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return cell_text(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    return value


def _is_numeric(field: pa.Field) -> bool:
    return pa.types.is_integer(field.type) or pa.types.is_floating(field.type) or pa.types.is_decimal(field.type)


def format_table(result: pa.Table) -> str:
    """Columns padded to their widest cell; numbers right-aligned; a row count at the end."""
    headers = result.column_names
    rows = [[cell_text(v) for v in row.values()] for row in result.to_pylist()]
    rows = [[c if len(c) <= MAX_CELL else c[: MAX_CELL - 1] + "…" for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    right = [_is_numeric(f) for f in result.schema]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    out.append(f"({result.num_rows} row{'s' if result.num_rows != 1 else ''})")
    return "\n".join(out)


def format_csv(result: pa.Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.column_names)
    for row in result.to_pylist():
        writer.writerow([cell_text(v) for v in row.values()])
    return buffer.getvalue().rstrip("\n")


def format_json(result: pa.Table) -> str:
    """A JSON array of row objects (lists stay lists, times are ISO strings)."""
    return json.dumps([{k: _json_value(v) for k, v in row.items()} for row in result.to_pylist()], indent=1)


def format_result(result: pa.Table, fmt: str) -> str:
    if fmt == "table":
        return format_table(result)
    if fmt == "csv":
        return format_csv(result)
    if fmt == "json":
        return format_json(result)
    raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
