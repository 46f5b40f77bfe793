"""Reading gold for the dashboard (real Iceberg tables) and writing the page atomically."""

from __future__ import annotations

import os
import pytest

from authpulse_dagster.dashboard.io import dashboard_path, day_range, read_dashboard_data, write_atomically
from authpulse_dagster.lakehouse.schemas import USER_RISK_DAILY
from tests.fixtures.lakehouse import write_rows
from authpulse_dagster.lakehouse.catalog import load_catalog
from tests.queries.seed import D1, D4, D5, seed


def test_reads_the_window_up_to_the_newest_scored_day(seeded_settings):
    data = read_dashboard_data(load_catalog(seeded_settings))
    assert (data.as_of, data.start, data.hosts_day) == (D5, D1, D5)  # the window never starts before the data
    assert len(data.user_risk) == 10 and len(data.alerts) == 3 and len(data.hosts) == 4
    u1 = data.user_risk[(data.user_risk.user_id == "U1") & (data.user_risk.event_date == D5)].iloc[0]
    assert u1.risk_score == 92.5 and list(u1.top_reasons) == ["new_host", "off_hours", "rare_host"]
    assert set(data.hosts.event_date) == {D5}


def test_a_short_window_reads_only_its_days(seeded_settings):
    data = read_dashboard_data(load_catalog(seeded_settings), window_days=2)
    assert data.start == D4
    assert sorted(set(data.user_risk.event_date)) == [D4, D5] and len(data.user_risk) == 6
    assert sorted(data.alerts.alert_id) == ["al-u1-d5", "al-u2-d5"]


def test_missing_and_empty_tables_read_as_no_data(settings, catalog):
    data = read_dashboard_data(catalog)
    assert data.as_of is None and data.user_risk.empty and data.alerts.empty and data.hosts.empty
    write_rows(settings, USER_RISK_DAILY, [])
    assert day_range(catalog.load_table(USER_RISK_DAILY.identifier)) is None
    seed(catalog, only=("host_popularity",))
    data = read_dashboard_data(catalog)
    assert (data.as_of, data.start, data.hosts_day) == (D5, D5, D5)  # host data alone still dates the page
    assert data.user_risk.empty and len(data.hosts) == 4


def test_write_is_atomic_and_replaces(settings):
    path = dashboard_path(settings)
    assert path == settings.home / "dashboard" / "index.html"
    assert write_atomically(path, "<p>é</p>") == len("<p>é</p>".encode())
    assert write_atomically(path, "<p>new</p>") == 10
    assert path.read_text() == "<p>new</p>"
    assert os.listdir(path.parent) == ["index.html"]  # no temp file left behind
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_a_failed_write_leaves_the_old_page(settings, monkeypatch):
    path = dashboard_path(settings)
    write_atomically(path, "old")

    def boom(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, "new")
    assert path.read_text() == "old"
    assert os.listdir(path.parent) == ["index.html"]


def test_day_range_comes_from_file_partitions(seeded_settings):
    table = load_catalog(seeded_settings).load_table("authpulse.user_risk_daily")
    assert day_range(table) == (D1, D5)
