"""The lakehouse side of the API: alerts, risk and events from the Iceberg tables.

- **The alert list** is served from memory: the ``alerts`` table (one row per
  entity and day, thousands of rows, not millions) is read through pyiceberg
  when its snapshot changes, checked at most every ``cache_seconds``, so a
  list request costs a filter over a sorted list, not a table scan. One
  thread refreshes while the others keep serving the previous snapshot.
- **Bounded lookups** (an alert's risk window and top events, an entity's
  days) run on DuckDB over the files pyiceberg plans, with bound
  parameters, through the same runner and SQL as the named queries
  (``alert_drilldown``).
- **Named queries** run on DuckDB locally and on Athena in AWS, exactly as
  ``authpulse query`` does.

Entities: an alert is for ``entity_type``/``entity_id`` when the table has
those columns; otherwise (today's schema) for the user (``user``, ``user_id``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Callable, Mapping

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.lakehouse.schemas import ALERTS, NAMESPACE
from authpulse_dagster.risk.config import RiskConfig
from authpulse_dagster.settings import LOCAL, Settings

SEVERITY_RANK = {"medium": 1, "high": 2, "critical": 3}
ENTITY_TYPES = ("user", "host")
_ALERT_COLUMNS = ("alert_id", "user_id", "event_date", "created_at", "severity", "score", "reasons", "first_event_ts",
                  "last_event_ts", "event_ids", "updated_at", "model_version")


class NotFound(Exception):
    """The thing asked for does not exist (HTTP 404)."""


class DataNotReady(Exception):
    """A table the request needs has not been built yet (HTTP 409)."""


@dataclass(frozen=True)
class AlertRow:
    alert_id: str
    entity_type: str
    entity: str
    user_id: str
    event_date: date
    severity: str
    score: float
    reasons: tuple[str, ...]
    high_risk_events: int
    first_event_ts: Any
    last_event_ts: Any
    created_at: Any
    updated_at: Any
    model_version: str | None

    @property
    def sort_key(self) -> tuple[int, str]:
        """Newest day first, then by id: immutable for an alert, so pages never skip or repeat one."""
        return (-self.event_date.toordinal(), self.alert_id)


def alert_rows(table: pa.Table) -> list[AlertRow]:
    """Rows of the alerts table, entity columns defaulted for a table without them, in list order."""
    names = set(table.column_names)
    rows = []
    for r in table.to_pylist():
        entity_type = r.get("entity_type") if "entity_type" in names else None
        entity = r.get("entity_id") if "entity_id" in names else None
        rows.append(AlertRow(
            alert_id=r["alert_id"], entity_type=entity_type or "user", entity=entity or r["user_id"], user_id=r["user_id"],
            event_date=r["event_date"], severity=r["severity"], score=float(r["score"]), reasons=tuple(r.get("reasons") or ()),
            high_risk_events=len(r.get("event_ids") or ()), first_event_ts=r.get("first_event_ts"), last_event_ts=r.get("last_event_ts"),
            created_at=r.get("created_at"), updated_at=r.get("updated_at"), model_version=r.get("model_version"),
        ))
    return sorted(rows, key=lambda a: a.sort_key)


class Lakehouse:
    """Reads for the API over one catalog (see the module doc)."""

    def __init__(self, settings: Settings, cache_seconds: float = 2.0, catalog_factory: Callable[[Settings], Catalog] = load_catalog):
        self.settings = settings
        self.cache_seconds = cache_seconds
        self._catalog_factory = catalog_factory
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()
        self._alerts: list[AlertRow] | None = None
        self._by_id: dict[str, AlertRow] = {}
        self._snapshot: int | None = -1
        self._checked = 0.0
        self.config = RiskConfig()

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = self._catalog_factory(self.settings)
        return self._catalog

    # --- the alert list ---------------------------------------------------------------

    @property
    def warm(self) -> bool:
        """Whether :meth:`alerts` answers from memory (only the first call reads the table on the caller's thread)."""
        return self._alerts is not None

    def alerts(self) -> list[AlertRow]:
        """Every alert in list order, at most ``cache_seconds`` behind the table."""
        due = time.monotonic() - self._checked >= self.cache_seconds
        if self._alerts is None:
            with self._lock:
                if self._alerts is None:
                    self._refresh()
        elif due and self._lock.acquire(blocking=False):
            # Off the request's path: this request and the others keep serving the current snapshot meanwhile.
            threading.Thread(target=self._refresh_and_release, daemon=True).start()
        assert self._alerts is not None
        return self._alerts

    def alert(self, alert_id: str) -> AlertRow:
        self.alerts()
        row = self._by_id.get(alert_id)
        if row is None:
            # The cache may predate the alert: look once more at the table before saying no.
            with self._lock:
                self._refresh()
            row = self._by_id.get(alert_id)
        if row is None:
            raise NotFound(f"no alert {alert_id!r}")
        return row

    def _refresh_and_release(self) -> None:
        try:
            self._refresh()
        except Exception:  # the next check tries again; a request never fails for a background refresh
            import logging

            logging.getLogger("authpulse.api").exception("refreshing the alerts cache failed")
        finally:
            self._lock.release()

    def _refresh(self) -> None:
        self._checked = time.monotonic()
        try:
            table = self.catalog.load_table(ALERTS.identifier)
        except NoSuchTableError:
            self._alerts, self._by_id, self._snapshot = [], {}, None
            return
        snapshot = table.metadata.current_snapshot_id
        if snapshot == self._snapshot and self._alerts is not None:
            return
        fields = [f for f in _ALERT_COLUMNS if f in {c.name for c in table.schema().fields}]
        fields += [f for f in ("entity_type", "entity_id") if f in {c.name for c in table.schema().fields}]
        rows = alert_rows(table.scan(selected_fields=tuple(fields)).to_arrow())
        self._alerts, self._by_id, self._snapshot = rows, {r.alert_id: r for r in rows}, snapshot

    # --- bounded lookups on DuckDB -----------------------------------------------------

    def _query(self, tables: tuple[str, ...], sql: str, params: list[Any]) -> list[dict[str, Any]]:
        from authpulse_dagster.queries import duckdb_runner

        con = duckdb_runner.connect()
        try:
            try:
                duckdb_runner.register_tables(con, self.catalog, tables)
            except ConfigError as exc:
                raise DataNotReady(str(exc)) from None
            return con.sql(sql, params=params).to_arrow_table().to_pylist()
        finally:
            con.close()

    def alert_events(self, alert_id: str) -> list[dict[str, Any]]:
        """The alert's top contributing events: the ``alert_drilldown`` named query."""
        from authpulse_dagster.queries import render, tables_in

        sql = render("alert_drilldown", {"alert_id": alert_id})
        from authpulse_dagster.queries import duckdb_runner

        con = duckdb_runner.connect()
        try:
            try:
                duckdb_runner.register_tables(con, self.catalog, tables_in(sql))
            except ConfigError as exc:
                raise DataNotReady(str(exc)) from None
            return duckdb_runner.run_sql(con, sql).to_pylist()
        finally:
            con.close()

    def risk_window(self, alert: AlertRow) -> list[dict[str, Any]]:
        """The entity's daily risk over the decay window ending on the alert's day."""
        first = alert.event_date - timedelta(days=self.config.decay_window_days - 1)
        return self.entity_days(alert.entity_type, alert.entity, first, alert.event_date)

    def entity_days(self, entity_type: str, entity: str, first: date, last: date) -> list[dict[str, Any]]:
        if entity_type == "user":
            return self._query(("user_risk_daily",), f"""
                SELECT event_date, risk_score, day_score, max_event_score, high_risk_events, events, top_reasons
                FROM {NAMESPACE}.user_risk_daily
                WHERE user_id = ? AND event_date BETWEEN ? AND ?
                ORDER BY event_date""", [entity, first, last])
        # A host's day: the events authenticated to it, scored like any other (no decayed host score yet).
        return self._query(("risk_scores", "host_popularity"), f"""
            WITH days AS (
                SELECT event_date, count(*) AS events, max(score) AS max_event_score,
                       count(*) FILTER (WHERE score >= ?) AS high_risk_events,
                       count(DISTINCT user_id) AS distinct_users,
                       list_sort(list_distinct(flatten(list(reasons) FILTER (WHERE score >= ?)))) AS top_reasons
                FROM {NAMESPACE}.risk_scores
                WHERE computer_id = ? AND event_date BETWEEN ? AND ?
                GROUP BY event_date
            )
            SELECT d.*, p.distinct_users_lookback, p.rarity
            FROM days d
            LEFT JOIN {NAMESPACE}.host_popularity p ON p.computer_id = ? AND p.event_date = d.event_date
            ORDER BY d.event_date""",
            [self.config.high_risk_event, self.config.high_risk_event, entity, first, last, entity])

    def latest_day(self, entity_type: str) -> date | None:
        table = "user_risk_daily" if entity_type == "user" else "risk_scores"
        rows = self._query((table,), f"SELECT max(event_date) AS d FROM {NAMESPACE}.{table}", [])
        return rows[0]["d"] if rows else None

    # --- named queries -------------------------------------------------------------------

    def run_query(self, name: str, params: Mapping[str, str], limit: int) -> tuple[pa.Table, bool]:
        """Rows of a named query (at most ``limit``) and whether there were more."""
        from authpulse_dagster.queries import render, tables_in

        sql = render(name, params)
        if self.settings.env == LOCAL:
            from authpulse_dagster.queries import duckdb_runner

            con = duckdb_runner.connect()
            try:
                try:
                    duckdb_runner.register_tables(con, self.catalog, tables_in(sql), settings=self.settings)
                except ConfigError as exc:
                    raise DataNotReady(str(exc)) from None
                # DuckDB keeps the query's ORDER BY through a relation's limit.
                result = con.sql(sql).limit(limit + 1).to_arrow_table()
            finally:
                con.close()
        else:
            from authpulse_dagster.queries.athena import run_athena

            result = run_athena(sql, self.settings)
        return result.slice(0, limit), result.num_rows > limit
