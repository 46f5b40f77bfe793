"""Run a named query locally: DuckDB over the Iceberg tables, read through pyiceberg and Arrow.

How DuckDB sees the lakehouse: pyiceberg opens each table the query names
and plans its current snapshot's data files; those files become a
``pyarrow.dataset`` with the table's Iceberg schema, registered in DuckDB and
exposed as a view ``authpulse.<table>``. DuckDB pushes its projections and
filters into that Arrow scan, so a query on one day reads only the columns it
needs and skips other days' files by their Parquet statistics (every file
holds a single ``event_date``). Nothing is downloaded: no DuckDB extension is
needed. A table with delete files (AuthPulse writes none) is read through
``table.scan().to_arrow()`` instead, which applies the deletes.

The query text stays Athena (Trino) SQL; :data:`TRINO_MACROS` adds the few
Trino functions DuckDB spells differently.
"""

from __future__ import annotations

from typing import Mapping

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table

from authpulse_dagster.api.export import TRIAGE_TABLE, read_triage
from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.lakehouse.schemas import NAMESPACE
from authpulse_dagster.queries import render, tables_in
from authpulse_dagster.settings import Settings

# Trino functions the queries use whose DuckDB spelling differs. Each macro
# keeps Trino's argument order and result, for the forms the queries use.
TRINO_MACROS: dict[str, str] = {
    # array_join(array, sep): Trino; DuckDB calls it array_to_string. Both skip nulls.
    "array_join": "(arr, sep) AS array_to_string(arr, sep)",
    # date_add(unit, n, date): Trino's argument order. Only 'day' on a DATE is
    # supported; anything else fails loudly rather than computing something else.
    "date_add": (
        "(unit, n, d) AS CASE WHEN lower(unit) = 'day' THEN d + CAST(n AS INTEGER) "
        "ELSE error('date_add: only the day unit is supported locally, got ' || unit) END"
    ),
}


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the ``authpulse`` schema, UTC session time and the Trino macros."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE SCHEMA {NAMESPACE}")
    for name, body in TRINO_MACROS.items():
        # Created in `main`, so they shadow DuckDB's own date_add(date, interval) for this connection only.
        con.execute(f"CREATE OR REPLACE MACRO main.{name}{body}")
    return con


def arrow_source(table: Table) -> ds.Dataset | pa.Table:
    """The table's current snapshot as something DuckDB can scan lazily (see module doc)."""
    schema = table.schema().as_arrow()
    tasks = list(table.scan().plan_files())
    if any(task.delete_files for task in tasks):
        return table.scan().to_arrow()
    if not tasks:
        return schema.empty_table()
    located = [pafs.FileSystem.from_uri(task.file.file_path) for task in tasks]
    filesystem = located[0][0]
    if any(type(fs) is not type(filesystem) for fs, _ in located):
        return table.scan().to_arrow()
    # Columns added to the table after a file was written read as nulls.
    return ds.dataset([path for _, path in located], schema=schema, format="parquet", filesystem=filesystem)


def register_tables(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, tables: tuple[str, ...], settings: Settings | None = None
) -> None:
    """Expose each named Iceberg table as the view ``authpulse.<table>``."""
    for name in tables:
        if name == TRIAGE_TABLE and settings is not None:
            # The SOC API's triage export, not an Iceberg table (authpulse_dagster/api/export.py).
            con.register(f"export_{name}", read_triage(settings))
            con.execute(f"CREATE OR REPLACE VIEW {NAMESPACE}.{name} AS SELECT * FROM export_{name}")
            continue
        try:
            table = catalog.load_table(f"{NAMESPACE}.{name}")
        except NoSuchTableError:
            raise ConfigError(
                f"table {NAMESPACE}.{name} does not exist yet; run `authpulse run` or `make demo` first"
            ) from None
        source_name = f"iceberg_{name}"
        con.register(source_name, arrow_source(table))
        con.execute(f"CREATE OR REPLACE VIEW {NAMESPACE}.{name} AS SELECT * FROM {source_name}")


def run_sql(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    return con.sql(sql).to_arrow_table()


def run_local(settings: Settings, name: str, params: Mapping[str, str]) -> pa.Table:
    """Render query ``name`` with ``params`` and run it on DuckDB over the local Iceberg tables."""
    sql = render(name, params)
    catalog = load_catalog(settings)
    con = connect()
    try:
        register_tables(con, catalog, tables_in(sql), settings)
        return run_sql(con, sql)
    finally:
        con.close()
