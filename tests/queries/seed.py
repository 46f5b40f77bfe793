"""A small, hand-made lakehouse: real Iceberg tables with rows whose query results are known.

Five days (2024-01-01 .. 2024-01-05), three users. The story the rows tell:
U1 works on C1 every day, then on day 5 at 02:00 logs on to C9, a computer
nobody else uses: two high-scoring events and a critical alert. U2 works on
C2, touched C1 once on day 3 (a medium alert) and had a burst on day 5 (a
high alert). U3 starts using C3 on day 4 and is never risky.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timezone

import pytest
from pyiceberg.catalog import Catalog

from authpulse_dagster.lakehouse.schemas import (
    ALERTS,
    AUTH_EVENTS,
    HOST_POPULARITY,
    RISK_SCORES,
    USER_HOST_DAILY,
    USER_RISK_DAILY,
    TableDef,
)
from authpulse_dagster.settings import Settings
from tests.fixtures.lakehouse import write_rows as _write

D1, D2, D3, D4, D5 = (date(2024, 1, d) for d in range(1, 6))
DAYS = (D1, D2, D3, D4, D5)


def ts(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc)


def _uhd(user: str, computer: str, day: date, events: int, first: tuple[int, int], last: tuple[int, int]) -> dict:
    return dict(user_id=user, computer_id=computer, event_date=day, events=events, first_seen=ts(day, *first), last_seen=ts(day, *last))


USER_HOST_DAILY_ROWS = (
    [_uhd("U1", "C1", d, 10, (8, 0), (17, 0)) for d in DAYS]
    + [_uhd("U2", "C2", d, 5, (9, 30), (16, 0)) for d in DAYS]
    + [
        _uhd("U2", "C1", D3, 1, (12, 0), (12, 0)),
        _uhd("U3", "C3", D4, 4, (9, 0), (15, 0)),
        _uhd("U3", "C3", D5, 4, (9, 0), (15, 0)),
        _uhd("U1", "C9", D5, 3, (2, 5), (2, 30)),
    ]
)


def _hp(computer: str, day: date, users: int, events: int, lookback: int, active: int) -> dict:
    return dict(
        computer_id=computer, event_date=day, distinct_users=users, events=events, distinct_users_lookback=lookback,
        active_users_lookback=active, rarity=math.log((1 + active) / (1 + lookback)),
    )


HOST_POPULARITY_ROWS = [
    _hp("C1", D1, 1, 10, 1, 2), _hp("C2", D1, 1, 5, 1, 2),
    _hp("C1", D2, 1, 10, 1, 2), _hp("C2", D2, 1, 5, 1, 2),
    _hp("C1", D3, 2, 11, 2, 2), _hp("C2", D3, 1, 5, 1, 2),
    _hp("C1", D4, 1, 10, 2, 3), _hp("C2", D4, 1, 5, 1, 3), _hp("C3", D4, 1, 4, 1, 3),
    _hp("C1", D5, 1, 10, 2, 3), _hp("C2", D5, 1, 5, 1, 3), _hp("C3", D5, 1, 4, 1, 3), _hp("C9", D5, 1, 3, 1, 3),
]


def _rs(event_id: str, user: str, computer: str, at: datetime, score: int, reasons: list[str], src: str | None = None) -> dict:
    return dict(
        event_id=event_id, event_ts=at, event_date=at.date(), user_id=user, computer_id=computer, src_computer_id=src,
        score=score, reasons=reasons, model_version="rules-v1",
    )


RISK_SCORE_ROWS = [
    _rs("e7", "U1", "C1", ts(D1, 8), 0, []),
    _rs("e4", "U1", "C1", ts(D4, 10), 0, []),
    _rs("e1", "U1", "C9", ts(D5, 2, 5), 90, ["new_host", "rare_host", "off_hours"], src="C1"),
    _rs("e2", "U1", "C9", ts(D5, 2, 20), 60, ["new_host", "off_hours"], src="C1"),
    _rs("e3", "U1", "C1", ts(D5, 9), 5, []),
    _rs("e6", "U2", "C1", ts(D3, 12), 70, ["new_host"]),
    _rs("e5", "U2", "C2", ts(D5, 11), 55, ["burst"]),
]


def _urd(user: str, day: date, risk: float, day_score: float, max_score: int, high: int, events: int, reasons: list[str]) -> dict:
    return dict(
        user_id=user, event_date=day, risk_score=risk, day_score=day_score, max_event_score=max_score,
        high_risk_events=high, events=events, top_reasons=reasons, model_version="rules-v1",
    )


USER_RISK_DAILY_ROWS = [
    _urd("U1", D1, 0.0, 0.0, 0, 0, 10, []),
    _urd("U2", D1, 0.0, 0.0, 0, 0, 5, []),
    _urd("U1", D3, 0.0, 0.0, 0, 0, 10, []),
    _urd("U2", D3, 70.0, 70.0, 70, 1, 6, ["new_host"]),
    _urd("U1", D4, 1.5, 1.5, 0, 0, 10, []),
    _urd("U2", D4, 35.0, 0.0, 0, 0, 5, []),
    _urd("U3", D4, 0.0, 0.0, 0, 0, 4, []),
    _urd("U1", D5, 92.5, 91.0, 90, 2, 13, ["new_host", "off_hours", "rare_host"]),
    _urd("U2", D5, 60.25, 42.75, 55, 1, 5, ["burst"]),
    _urd("U3", D5, 0.0, 0.0, 0, 0, 4, []),
]


def _alert(alert_id: str, user: str, day: date, severity: str, score: float, reasons: list[str], events: list[dict]) -> dict:
    return dict(
        alert_id=alert_id, user_id=user, event_date=day, created_at=ts(day, 23, 0), severity=severity, score=score,
        reasons=reasons, first_event_ts=min(e["event_ts"] for e in events), last_event_ts=max(e["event_ts"] for e in events),
        event_ids=[e["event_id"] for e in events], updated_at=ts(day, 23, 30), model_version="rules-v1",
    )


_BY_ID = {r["event_id"]: r for r in RISK_SCORE_ROWS}
ALERT_ROWS = [
    _alert("al-u2-d3", "U2", D3, "medium", 70.0, ["new_host"], [_BY_ID["e6"]]),
    _alert("al-u1-d5", "U1", D5, "critical", 92.5, ["new_host", "rare_host"], [_BY_ID["e1"], _BY_ID["e2"]]),
    _alert("al-u2-d5", "U2", D5, "high", 60.25, ["burst"], [_BY_ID["e5"]]),
]


def _auth(risk: dict, auth_type: str | None, logon_type: str | None, orientation: str | None, success: bool) -> dict:
    at: datetime = risk["event_ts"]
    return dict(
        event_id=risk["event_id"], event_ts=at, event_date=at.date(),
        dataset_time=int((at - datetime(2024, 1, 1, tzinfo=timezone.utc)).total_seconds()), user_id=risk["user_id"],
        user_domain="DOM1", computer_id=risk["computer_id"], src_computer_id=risk["src_computer_id"],
        dst_user_id=risk["user_id"], auth_type=auth_type, logon_type=logon_type, orientation=orientation, success=success,
        event_hour=at.hour, day_of_week=at.isoweekday(), source="file", format="lanl2015", ingested_at=ts(D5, 23, 59),
    )


AUTH_EVENT_ROWS = [
    _auth(_BY_ID["e1"], "NTLM", "Network", "LogOn", True),
    _auth(_BY_ID["e2"], "Kerberos", "Network", "LogOn", False),
    _auth(_BY_ID["e3"], "Kerberos", "Interactive", "LogOn", True),
    _auth(_BY_ID["e4"], "Kerberos", "Interactive", "LogOn", True),
    _auth(_BY_ID["e5"], "Kerberos", "Network", "TGS", True),
    _auth(_BY_ID["e6"], "NTLM", "Network", "LogOn", True),
    _auth(_BY_ID["e7"], "Kerberos", "Interactive", "LogOn", True),
]

ROWS: dict[str, list[dict]] = {
    USER_HOST_DAILY.name: USER_HOST_DAILY_ROWS,
    HOST_POPULARITY.name: HOST_POPULARITY_ROWS,
    RISK_SCORES.name: RISK_SCORE_ROWS,
    USER_RISK_DAILY.name: USER_RISK_DAILY_ROWS,
    ALERTS.name: ALERT_ROWS,
    AUTH_EVENTS.name: AUTH_EVENT_ROWS,
}
DEFS: dict[str, TableDef] = {
    t.name: t for t in (USER_HOST_DAILY, HOST_POPULARITY, RISK_SCORES, USER_RISK_DAILY, ALERTS, AUTH_EVENTS)
}


def write_rows(where: Catalog | Settings, table_def: TableDef, rows: list[dict]) -> None:
    """Write ``rows`` into the real Iceberg table through Spark (created if needed), one snapshot.

    ``where`` is the test's settings, or the pyiceberg catalog a test already holds.
    """
    settings = where if isinstance(where, Settings) else _settings_of(where)
    _write(settings, table_def, rows, {"authpulse.asset": f"test-{table_def.name}"})


def _settings_of(catalog: Catalog) -> Settings:
    """The data home a test's SQL catalog lives in (``<home>/catalog.db``)."""
    uri = catalog.properties["uri"]
    return Settings.from_env({"AUTHPULSE_HOME": uri.removeprefix("sqlite:///").rsplit("/", 1)[0]})


def seed(catalog: Catalog, only: tuple[str, ...] | None = None) -> None:
    """Write every seeded table (or only the named ones)."""
    for name, rows in ROWS.items():
        if only is None or name in only:
            write_rows(catalog, DEFS[name], rows)


@pytest.fixture(scope="session")
def seeded_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for a data home holding the seeded tables; shared, so tests must only read it."""
    from authpulse_dagster.lakehouse.catalog import load_catalog

    settings = Settings(home=tmp_path_factory.mktemp("seeded") / "home")
    seed(load_catalog(settings))
    return settings
