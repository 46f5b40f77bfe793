"""Reading the gold tables for the dashboard, and writing the page.

Only small slices are read: the window of ``user_risk_daily`` and ``alerts``
(one row per user and day at most) and one day of ``host_popularity``, each
through a pyiceberg scan with a day filter and the needed columns. The
per-event ``risk_scores`` table is never read: its daily totals are already
in ``user_risk_daily``. A table that does not exist yet reads as empty, so
the dashboard can be built before the risk engine has run.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThanOrEqual
from pyiceberg.table import Table

from authpulse_dagster.dashboard.build import ALERT_COLUMNS, HOST_COLUMNS, USER_RISK_COLUMNS, DashboardData
from authpulse_dagster.lakehouse.schemas import ALERTS, HOST_POPULARITY, USER_RISK_DAILY
from authpulse_dagster.settings import Settings

WINDOW_DAYS = 30
EPOCH = date(1970, 1, 1)


def dashboard_path(settings: Settings) -> Path:
    """Where the page lives: ``$AUTHPULSE_HOME/dashboard/index.html``."""
    return settings.home / "dashboard" / "index.html"


def _open(catalog: Catalog, identifier: str) -> Table | None:
    try:
        return catalog.load_table(identifier)
    except NoSuchTableError:
        return None


def day_range(table: Table | None) -> tuple[date, date] | None:
    """Oldest and newest ``event_date`` holding data, from the planned files' partition values (no data read)."""
    if table is None:
        return None
    days = []
    for task in table.scan().plan_files():
        value = task.file.partition[0]
        days.append(value if isinstance(value, date) else EPOCH + timedelta(days=int(value)))
    return (min(days), max(days)) if days else None


def read_days(table: Table | None, columns: tuple[str, ...], first: date, last: date) -> pd.DataFrame:
    """The given columns of the rows from ``first`` to ``last`` (empty frame when there is no table)."""
    if table is None:
        return pd.DataFrame({c: pd.Series([], dtype="object") for c in columns})
    row_filter = (
        EqualTo("event_date", first.isoformat())
        if first == last
        else And(GreaterThanOrEqual("event_date", first.isoformat()), LessThanOrEqual("event_date", last.isoformat()))
    )
    data = table.scan(row_filter=row_filter, selected_fields=columns).to_arrow()
    # Dates stay datetime.date objects (not numpy datetimes), lists stay Python lists.
    return data.to_pandas(date_as_object=True, maps_as_pydicts="strict")[list(columns)]


def read_dashboard_data(catalog: Catalog, window_days: int = WINDOW_DAYS) -> DashboardData:
    """Gather what the page shows: ``window_days`` days up to the newest scored day, and that day's hosts."""
    risk = _open(catalog, USER_RISK_DAILY.identifier)
    alerts = _open(catalog, ALERTS.identifier)
    hosts = _open(catalog, HOST_POPULARITY.identifier)
    risk_days, host_days = day_range(risk), day_range(hosts)
    hosts_day = host_days[1] if host_days else None
    as_of = risk_days[1] if risk_days else hosts_day
    data = DashboardData(as_of=as_of, hosts_day=hosts_day)
    if as_of is not None:
        # The window never starts before the first scored day: no empty weeks before the data begins.
        first = risk_days[0] if risk_days else as_of
        data.start = max(as_of - timedelta(days=window_days - 1), first)
        data.user_risk = read_days(risk, USER_RISK_COLUMNS, data.start, as_of)
        data.alerts = read_days(alerts, ALERT_COLUMNS, data.start, as_of)
    if hosts_day is not None:
        data.hosts = read_days(hosts, HOST_COLUMNS, hosts_day, hosts_day)
    return data


def write_atomically(path: Path, text: str) -> int:
    """Write ``text`` so a reader sees the old page or the new one, never half of one. Returns bytes written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(payload)
