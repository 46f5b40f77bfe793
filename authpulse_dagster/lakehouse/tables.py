"""Python-side reads of AuthPulse's Iceberg tables through pyiceberg.

Spark writes every table (``spark_tables.py``); pyiceberg only reads, for the
code that runs without Spark: DuckDB queries, sensors, the evaluation, the
demo's summary, tests that inspect tables. It opens the same catalog (the
SQLite file locally, Glue in AWS), so a commit Spark made is visible here at
once. Reading never creates or changes anything.
"""

from __future__ import annotations

from datetime import date
from typing import Iterable

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, GreaterThanOrEqual, LessThanOrEqual
from pyiceberg.table import Table

from authpulse_dagster.lakehouse.schemas import TableDef


def load_table(catalog: Catalog, table_def: TableDef) -> Table | None:
    """The table, or None when no step has created it yet."""
    try:
        return catalog.load_table(table_def.identifier)
    except NoSuchTableError:
        return None


def days_filter(days: Iterable[date]) -> BooleanExpression:
    """Row filter for a set of days (a contiguous range becomes two bounds)."""
    days = sorted(set(days))
    if not days:
        raise ValueError("days_filter needs at least one day")
    return And(GreaterThanOrEqual("event_date", days[0].isoformat()), LessThanOrEqual("event_date", days[-1].isoformat()))


def count_rows(table: Table | None, row_filter: BooleanExpression = AlwaysTrue()) -> int:
    """Row count from manifest metadata alone (exact: the writers make no delete files)."""
    if table is None:
        return 0
    return sum(task.file.record_count for task in table.scan(row_filter=row_filter).plan_files())


def scan_arrow(catalog: Catalog, table_def: TableDef, row_filter: BooleanExpression = AlwaysTrue(),
               selected_fields: tuple[str, ...] = ("*",)):
    """The matching rows as Arrow (an empty result with the right columns when the table does not exist yet)."""
    table = load_table(catalog, table_def)
    if table is None:
        schema = table_def.schema.as_arrow()
        if selected_fields != ("*",):
            schema = schema.__class__([schema.field(n) for n in selected_fields])
        return schema.empty_table()
    return table.scan(row_filter=row_filter, selected_fields=selected_fields).to_arrow()
