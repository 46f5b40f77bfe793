"""Named investigation queries: ``.sql`` files that Athena and DuckDB both run.

Each ``<name>.sql`` in this package is one query (see :mod:`.spec` for the
header format). The same text runs on Athena (tables are
``authpulse.<table>`` in the Glue database) and locally on DuckDB (see
:mod:`.duckdb_runner`, which registers the Iceberg tables as views in a
DuckDB schema named ``authpulse`` and adds the few Trino functions DuckDB
lacks), so an investigation written once works in both places.

Public API (the Athena runner uses it too): :func:`list_queries`,
:func:`load`, :func:`render`, :class:`QuerySpec`, :class:`QueryParam`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Mapping

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.queries.spec import QueryParam, QuerySpec, parse, render_spec, tables_in

__all__ = ["QueryParam", "QuerySpec", "list_queries", "load", "render", "tables_in"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _files() -> dict[str, str]:
    """Query name -> SQL text, read from the package data (works from a wheel too)."""
    root = resources.files(__name__)
    return {entry.name[: -len(".sql")]: entry.read_text(encoding="utf-8") for entry in root.iterdir() if entry.name.endswith(".sql")}


@lru_cache(maxsize=1)
def _specs() -> dict[str, QuerySpec]:
    return {name: parse(name, text) for name, text in sorted(_files().items())}


def list_queries() -> list[QuerySpec]:
    """Every named query, sorted by name."""
    return list(_specs().values())


def load(name: str) -> QuerySpec:
    """The query called ``name``; an unknown name is a :class:`ConfigError` listing the known ones."""
    specs = _specs()
    if not _NAME.match(name or "") or name not in specs:
        raise ConfigError(f"unknown query {name!r}; known queries: {', '.join(specs)} (see `authpulse query --list`)")
    return specs[name]


def render(name: str, params: Mapping[str, str]) -> str:
    """The SQL of query ``name`` with every ``{{param}}`` replaced by a validated literal.

    Unknown query, unknown parameter, missing required parameter or a value
    that does not fit its type: :class:`ConfigError` with one line saying which.
    """
    return render_spec(load(name), {k: str(v) for k, v in params.items()})
