"""Reading and writing AuthPulse's Iceberg tables.

Writes replace whole days: data files are staged first, then each day is
swapped in one ``overwrite`` snapshot that removes the day's old files and
adds the new ones, so a re-materialized day is atomic and a reader never
sees half of it. Every snapshot summary carries the caller's properties
(Dagster run id, asset partition, counts).

Reads hand Spark the list of data files that pyiceberg plans, so the data
goes from storage to the executors without passing through the driver.
"""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from datetime import date
from typing import Iterable, Mapping

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, EqualTo, GreaterThanOrEqual, LessThanOrEqual
from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from authpulse_dagster.lakehouse.schemas import TABLES, TableDef


def ensure_table(catalog: Catalog, table_def: TableDef) -> Table:
    """Create the table on first use; afterwards add any fields the definition gained."""
    try:
        table = catalog.load_table(table_def.identifier)
    except NoSuchTableError:
        return catalog.create_table(
            table_def.identifier,
            schema=table_def.schema,
            partition_spec=table_def.partition_spec,
            sort_order=table_def.sort_order,
            properties={"comment": table_def.description, "format-version": "2"},
        )
    existing = {f.name for f in table.schema().fields}
    if any(name not in existing for name in table_def.column_names):
        with table.update_schema() as update:
            update.union_by_name(table_def.schema)
        table = catalog.load_table(table_def.identifier)
    return table


def open_table(catalog: Catalog, name: str) -> Table:
    return ensure_table(catalog, TABLES[name])


def days_filter(days: Iterable[date]) -> BooleanExpression:
    """Row filter for a set of days (a contiguous range becomes two bounds)."""
    days = sorted(set(days))
    if not days:
        raise ValueError("days_filter needs at least one day")
    return And(GreaterThanOrEqual("event_date", days[0].isoformat()), LessThanOrEqual("event_date", days[-1].isoformat()))


def arrow_schema(table: Table) -> pa.Schema:
    return table.schema().as_arrow()


def conform(table: Table, data: pa.Table) -> pa.Table:
    """Select the table's columns in order and cast to its Arrow schema."""
    target = arrow_schema(table)
    missing = [f.name for f in target if f.name not in data.column_names]
    if missing:
        raise ValueError(f"rows for {table.name()} lack columns {missing}")
    return data.select(target.names).cast(target)


class DayReplacer:
    """Stage rows for a set of days, then swap each day in with one snapshot.

    ``write`` may be called many times (bounded memory: each call writes its
    rows to data files right away); ``commit`` then replaces every staged day.
    Days passed to the constructor but never written are emptied, so a day
    whose source lost all its rows does not keep stale ones.
    """

    def __init__(self, table: Table, days: Iterable[date], snapshot_properties: Mapping[str, str]):
        self.table = table
        self.days = sorted(set(days))
        self.props = {k: str(v) for k, v in snapshot_properties.items()}
        self._staged: dict[date, list[DataFile]] = defaultdict(list)
        self._rows: dict[date, int] = defaultdict(int)
        self._uuid = uuid.uuid4()
        self._counter = itertools.count()

    def write(self, data: pa.Table) -> None:
        if data.num_rows == 0:
            return
        data = conform(self.table, data)
        day_counts = pc.value_counts(data.column("event_date")).to_pylist()
        unexpected = [c["values"] for c in day_counts if c["values"] not in set(self.days)]
        if unexpected:
            raise ValueError(f"rows for {self.table.name()} fall outside the days being replaced: {unexpected[:3]}")
        for c in day_counts:
            self._rows[c["values"]] += c["counts"]
        files = _dataframe_to_data_files(
            table_metadata=self.table.metadata, df=data, io=self.table.io, write_uuid=self._uuid, counter=self._counter
        )
        for data_file in files:
            self._staged[_file_day(data_file)].append(data_file)

    def commit(self, per_day_properties: Mapping[date, Mapping[str, object]] | None = None) -> dict[date, int | None]:
        """Replace each day; returns the snapshot id per day (None if nothing changed).

        ``per_day_properties`` adds summary entries for single days (e.g. counts).
        """
        snapshots: dict[date, int | None] = {}
        for day in self.days:
            old = [task.file for task in self.table.scan(row_filter=EqualTo("event_date", day.isoformat())).plan_files()]
            new = self._staged.get(day, [])
            if not old and not new:
                snapshots[day] = None
                continue
            extra = {k: str(v) for k, v in (per_day_properties or {}).get(day, {}).items()}
            props = {**self.props, **extra, "authpulse.partition": day.isoformat(), "authpulse.rows": str(self._rows.get(day, 0))}
            with self.table.transaction() as tx:
                with tx.update_snapshot(snapshot_properties=props).overwrite() as overwrite:
                    for data_file in old:
                        overwrite.delete_data_file(data_file)
                    for data_file in new:
                        overwrite.append_data_file(data_file)
            self.table.refresh()
            snapshots[day] = self.table.current_snapshot().snapshot_id
        return snapshots

    def rows(self, day: date) -> int:
        return self._rows.get(day, 0)


def _file_day(data_file: DataFile) -> date:
    value = data_file.partition[0]
    # Iceberg stores a date partition value as days since 1970-01-01.
    return value if isinstance(value, date) else date.fromordinal(date(1970, 1, 1).toordinal() + int(value))


def replace_days(table: Table, data: pa.Table, days: Iterable[date], snapshot_properties: Mapping[str, str]) -> dict[date, int | None]:
    """One-shot form of :class:`DayReplacer` for data that fits in memory."""
    replacer = DayReplacer(table, days, snapshot_properties)
    replacer.write(data)
    return replacer.commit()


def partition_summary(table: Table, day: date) -> dict[str, str] | None:
    """Summary of the newest snapshot that replaced ``day`` (None if none did)."""
    snapshot = table.current_snapshot()
    while snapshot is not None:
        summary = snapshot.summary.additional_properties if snapshot.summary else {}
        if summary.get("authpulse.partition") == day.isoformat():
            return dict(summary)
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    return None


def count_rows(table: Table, row_filter: BooleanExpression = AlwaysTrue()) -> int:
    """Row count from manifest metadata alone (exact: tables hold no delete files)."""
    return sum(task.file.record_count for task in table.scan(row_filter=row_filter).plan_files())


def data_file_paths(table: Table, row_filter: BooleanExpression = AlwaysTrue()) -> list[str]:
    """Data files a scan must read. Refuses tables with delete files, which a plain Parquet read would ignore."""
    paths = []
    for task in table.scan(row_filter=row_filter).plan_files():
        if task.delete_files:
            raise RuntimeError(f"{table.name()} has delete files; plain Parquet reads would be wrong")
        paths.append(task.file.file_path)
    return paths
