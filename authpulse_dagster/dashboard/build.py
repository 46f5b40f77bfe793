"""Assemble the analyst dashboard: frames in, one self-contained HTML page out.

Pure on purpose (no catalog, no files): :mod:`.io` gathers the frames and
writes the page, so this module is tested with hand-made frames and the page
can be rebuilt from any source. plotly.js is inlined once in the page head
and every chart is a ``<div>`` with a stable id, so the page opens from disk
or any static host with no network at all.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import plotly.io as pio
import plotly.offline

from authpulse_dagster.dashboard import charts

CHART_IDS = ("chart-risk-over-time", "chart-top-users", "chart-alert-volume", "chart-host-popularity")
TOP_USERS = 15
RARE_HOST_USERS = 2  # a computer used by at most this many users over the lookback counts as rare
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

USER_RISK_COLUMNS = ("user_id", "event_date", "risk_score", "day_score", "max_event_score", "high_risk_events", "events", "top_reasons")
ALERT_COLUMNS = ("alert_id", "user_id", "event_date", "severity", "score")
HOST_COLUMNS = ("computer_id", "event_date", "distinct_users_lookback", "rarity")


def _frame(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="object") for c in columns})


@dataclass
class DashboardData:
    """What the page shows. ``as_of`` is the newest day with risk data (else with host data)."""

    as_of: date | None = None
    start: date | None = None  # first day of the window shown in the time charts
    user_risk: pd.DataFrame = field(default_factory=lambda: _frame(USER_RISK_COLUMNS))
    alerts: pd.DataFrame = field(default_factory=lambda: _frame(ALERT_COLUMNS))
    hosts: pd.DataFrame = field(default_factory=lambda: _frame(HOST_COLUMNS))  # one day of host_popularity
    hosts_day: date | None = None


@dataclass(frozen=True)
class DashboardPage:
    html: str
    charts: tuple[str, ...]
    as_of: date | None
    top_users: int
    alerts_in_window: int


def top_users_frame(data: DashboardData, limit: int = TOP_USERS) -> pd.DataFrame:
    """The riskiest users on the as-of day with their reasons and that day's alert, riskiest first."""
    columns = ["user_id", "risk_score", "day_score", "max_event_score", "high_risk_events", "events", "reasons",
               "alert_severity", "alert_id"]
    if data.user_risk.empty or data.as_of is None:
        return pd.DataFrame({c: pd.Series([], dtype="object") for c in columns})
    day = data.user_risk[data.user_risk["event_date"] == data.as_of]
    day = day.sort_values(["risk_score", "max_event_score", "user_id"], ascending=[False, False, True]).head(limit)
    alerts = data.alerts[data.alerts["event_date"] == data.as_of][["user_id", "severity", "alert_id"]]
    merged = day.merge(alerts, on="user_id", how="left").rename(columns={"severity": "alert_severity"})
    merged["reasons"] = merged["top_reasons"].map(lambda r: ", ".join(r) if r is not None and len(r) else "")
    merged["alert_severity"] = merged["alert_severity"].astype("object").where(merged["alert_severity"].notna(), None)
    merged["alert_id"] = merged["alert_id"].astype("object").where(merged["alert_id"].notna(), None)
    return merged[columns].reset_index(drop=True)


def one_decimal(value: float) -> str:
    """Round half up, as the SQL engines' round() does (Python's format would show 60.25 as 60.2)."""
    return str(Decimal(repr(float(value))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _chart_html(fig, div_id: str) -> str:
    height = int(fig.layout.height or charts.HEIGHT)
    return pio.to_html(
        fig, full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOTLY_CONFIG, default_height=f"{height}px"
    )


def _table_html(top: pd.DataFrame) -> str:
    if top.empty:
        return '<p class="empty" id="top-users-empty">No users scored on this day.</p>'
    head = "".join(
        f"<th>{h}</th>" for h in ("#", "user", "risk", "day score", "max event", "high-risk events", "events", "reasons", "alert")
    )
    rows = []
    for i, r in enumerate(top.itertuples(index=False), start=1):
        severity = r.alert_severity or ""
        alert = f'<span class="sev sev-{html.escape(severity)}">{html.escape(severity)}</span> {html.escape(r.alert_id or "")}'
        rows.append(
            "<tr>"
            f"<td>{i}</td><td>{html.escape(str(r.user_id))}</td><td class=num>{one_decimal(r.risk_score)}</td>"
            f"<td class=num>{one_decimal(r.day_score)}</td><td class=num>{int(r.max_event_score)}</td>"
            f"<td class=num>{int(r.high_risk_events)}</td><td class=num>{int(r.events)}</td>"
            f"<td>{html.escape(r.reasons)}</td><td>{alert if severity else ''}</td>"
            "</tr>"
        )
    return f'<table id="top-users-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _kpis(data: DashboardData) -> list[tuple[str, str]]:
    on_day = data.user_risk[data.user_risk["event_date"] == data.as_of] if data.as_of else data.user_risk.iloc[0:0]
    by_severity = data.alerts["severity"].value_counts() if not data.alerts.empty else pd.Series(dtype="int64")
    alert_text = " / ".join(f"{int(by_severity.get(s, 0))} {s}" for s in charts.SEVERITIES)
    rare = int((data.hosts["distinct_users_lookback"] <= RARE_HOST_USERS).sum()) if not data.hosts.empty else 0
    return [
        ("users scored", f"{len(on_day):,}"),
        ("high-risk events", f"{int(on_day['high_risk_events'].sum()) if not on_day.empty else 0:,}"),
        ("alerts in window", f"{len(data.alerts):,} ({alert_text})"),
        (f"rare hosts (at most {RARE_HOST_USERS} users)", f"{rare:,} of {len(data.hosts):,}"),
    ]


STYLE = """
body{margin:0;background:#f4f6f9;color:#1f2933;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{padding:18px 28px 8px}
h1{margin:0;font-size:22px}
h2{font-size:16px;margin:4px 0 12px}
.meta{margin:6px 0 0;color:#52606d;font-size:13px}
.kpis{display:flex;gap:12px;flex-wrap:wrap;padding:8px 28px}
.kpi{background:#fff;border-radius:8px;padding:10px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:180px}
.kpi .v{font-size:20px;font-weight:600}.kpi .k{font-size:12px;color:#52606d}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px;padding:12px 28px 28px}
.card{background:#fff;border-radius:8px;padding:10px;box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:0}
.wide{grid-column:1/-1}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e4e7eb}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.sev{padding:1px 6px;border-radius:4px;color:#fff;font-size:12px}
.sev-medium{background:#f2a900}.sev-high{background:#e8590c}.sev-critical{background:#c92a2a}
.empty{color:#52606d}
"""


def build_page(data: DashboardData, generated_at: datetime | None = None) -> DashboardPage:
    """The complete HTML page for ``data``."""
    generated_at = (generated_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    top = top_users_frame(data)
    figures = {
        "chart-risk-over-time": charts.risk_over_time(data.user_risk, data.start, data.as_of),
        "chart-top-users": charts.top_users(top, data.as_of),
        "chart-alert-volume": charts.alert_volume(data.alerts, data.start, data.as_of),
        "chart-host-popularity": charts.host_popularity(data.hosts, data.hosts_day),
    }
    as_of = data.as_of.isoformat() if data.as_of else "no data yet"
    table_title = f"Top users on {as_of}, with reasons" if data.as_of else "Top users, with reasons"
    window = f"{data.start.isoformat()} to {data.as_of.isoformat()}" if data.start and data.as_of else "none"
    kpis = "".join(
        f'<div class="kpi"><div class="v">{html.escape(v)}</div><div class="k">{html.escape(k)}</div></div>' for k, v in _kpis(data)
    )
    cells = {cid: f'<section class="card{" wide" if cid == "chart-risk-over-time" else ""}">{_chart_html(fig, cid)}</section>'
             for cid, fig in figures.items()}
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AuthPulse risk dashboard ({html.escape(as_of)})</title>
<style>{STYLE}</style>
<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>
</head>
<body>
<header>
<h1>AuthPulse: risk dashboard</h1>
<p class="meta">Data as of <b id="data-as-of">{html.escape(as_of)}</b> (window {html.escape(window)}) &middot;
generated <span id="generated-at">{generated_at.strftime("%Y-%m-%d %H:%M:%S")} UTC</span></p>
</header>
<section class="kpis">{kpis}</section>
<main class="grid">
{cells["chart-risk-over-time"]}
{cells["chart-top-users"]}
{cells["chart-alert-volume"]}
{cells["chart-host-popularity"]}
<section class="card wide"><h2>{html.escape(table_title)}</h2>{_table_html(top)}</section>
</main>
</body>
</html>
"""
    return DashboardPage(html=page, charts=CHART_IDS, as_of=data.as_of, top_users=len(top), alerts_in_window=len(data.alerts))
