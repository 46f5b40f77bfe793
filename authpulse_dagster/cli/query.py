"""``authpulse query``: run a named investigation query and print the result.

The queries are the ``.sql`` files in :mod:`authpulse_dagster.queries`. An
*engine* runs the rendered SQL and returns Arrow: ``local`` is DuckDB over the
local Iceberg tables. Adding an engine (Athena) is one entry in
:data:`ENGINES` with the same signature.
"""

from __future__ import annotations

import textwrap
from typing import Callable, Mapping

import click
import pyarrow as pa

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.queries import QuerySpec, list_queries, load, render
from authpulse_dagster.queries.output import FORMATS, format_result
from authpulse_dagster.cli import context as cli_context
from authpulse_dagster.settings import Settings

Engine = Callable[[Settings, str, Mapping[str, str]], pa.Table]


def _run_local(settings: Settings, name: str, params: Mapping[str, str]) -> pa.Table:
    # Imported when used: DuckDB is only needed by this engine.
    from authpulse_dagster.queries.duckdb_runner import run_local

    return run_local(settings, name, params)


def _run_athena(settings: Settings, name: str, params: Mapping[str, str]) -> pa.Table:
    from authpulse_dagster.queries.athena import run_named

    return run_named(name, params, settings).table


ENGINES: dict[str, Engine] = {"local": _run_local, "athena": _run_athena}


def parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("day=2024-01-05", "top=5")`` -> ``{"day": "2024-01-05", "top": "5"}``; values may contain '='."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--param expects KEY=VALUE, got {pair!r}")
        if key in params:
            raise ConfigError(f"--param {key} is given twice")
        params[key] = value
    return params


def describe(spec: QuerySpec, detailed: bool) -> str:
    """A query's entry in ``--list``: its summary (or full description) and aligned parameter lines."""
    text = spec.description if detailed else spec.summary
    lines = [spec.name]
    for paragraph in text.split("\n\n"):
        lines += textwrap.wrap(" ".join(paragraph.split()), width=96, initial_indent="    ", subsequent_indent="    ")
    usage = [f"--param {p.name}=<{p.type_label}>" for p in spec.params]
    defaults = ["required" if p.required else f"default: {p.default_label}" for p in spec.params]
    width_u = max((len(u) for u in usage), default=0)
    width_d = max((len(d) for d in defaults), default=0)
    for p, u, d in zip(spec.params, usage, defaults):
        lines.append(f"      {u.ljust(width_u)}  {d.ljust(width_d)}  {p.description}".rstrip())
    return "\n".join(lines)


@click.command("query")
@click.argument("name", required=False)
@click.option("--param", "-p", "param_pairs", multiple=True, metavar="KEY=VALUE", help="A query parameter; repeat for more.")
@click.option("--list", "list_only", is_flag=True, help="List the queries and their parameters (with NAME: that query in full).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format.")
@click.option(
    "--limit", type=click.IntRange(min=0), default=100, show_default=True, help="Print at most this many rows (0: all)."
)
@click.option("--engine", type=click.Choice(sorted(ENGINES)), default=None,
              help="Where the SQL runs: local (DuckDB over the local tables) or athena; default: athena when AUTHPULSE_ENV=aws.")
@click.option("--show-sql", is_flag=True, help="Print the rendered SQL instead of running it.")
def query(
    name: str | None, param_pairs: tuple[str, ...], list_only: bool, fmt: str, limit: int, engine: str, show_sql: bool
) -> None:
    """Run the named investigation query NAME and print the result.

    The same SQL runs on Athena; locally it runs on DuckDB over the Iceberg
    tables under AUTHPULSE_HOME.

    \b
    Examples:
      authpulse query --list
      authpulse query top_risky_users --param day=2024-01-03 --param top=10
      authpulse query user_timeline -p user=U12 -p days=3 --format csv
    """
    if list_only:
        specs = [load(name)] if name else list_queries()
        click.echo("\n\n".join(describe(s, detailed=bool(name)) for s in specs))
        return
    if not name:
        raise ConfigError("name a query to run, or use `authpulse query --list` to see them")
    params = parse_params(param_pairs)
    if show_sql:
        click.echo(render(name, params))
        return
    settings = cli_context.settings()
    engine = engine or ("athena" if settings.env == "aws" else "local")
    result = ENGINES[engine](settings, name, params)
    total = result.num_rows
    if limit and total > limit:
        result = result.slice(0, limit)
    click.echo(format_result(result, fmt))
    if result.num_rows < total:
        click.echo(f"(showing the first {result.num_rows} of {total} rows; --limit 0 shows all)", err=True)
