"""The dashboard's four figures, built from plain pandas frames.

Each function returns a complete figure even when its frame is empty: an
empty chart carries a centred annotation saying why ("no alerts in range"),
so the page always has every chart and an analyst never mistakes a missing
chart for a broken page.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import plotly.graph_objects as go

SEVERITIES = ("medium", "high", "critical")
SEVERITY_COLOURS = {"medium": "#f2a900", "high": "#e8590c", "critical": "#c92a2a", "none": "#8da0b3"}
RISK_COLOUR = "#364fc7"
HEIGHT = 380

# Host popularity buckets: how many distinct users a computer had over the lookback.
USER_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1", 1, 1),
    ("2", 2, 2),
    ("3-5", 3, 5),
    ("6-10", 6, 10),
    ("11-25", 11, 25),
    ("26-100", 26, 100),
    ("over 100", 101, None),
)


def _layout(fig: go.Figure, title: str, height: int = HEIGHT) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 16}},
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 30, "t": 60, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    )
    return fig


def _empty(fig: go.Figure, message: str) -> go.Figure:
    """Mark a chart as deliberately empty: hidden axes and one explanatory annotation."""
    fig.add_annotation(
        text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 15, "color": "#555"}
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def days_in(start: date, end: date) -> list[str]:
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def _day_axis(days: list[str]) -> dict:
    """A date axis with one tick per day for short windows (plotly would otherwise show hours)."""
    axis: dict = {"type": "date", "title": "day", "tickformat": "%b %d"}
    if len(days) <= 14:
        axis["dtick"] = 86_400_000
    return axis


def _count_axis(title: str, top: float) -> dict:
    """A count axis from zero; whole-number ticks when counts are small (no '0.5 alerts')."""
    # An explicit tick mode: an axis overlaying another would otherwise sync to its grid (ticks like 8.8, 17.6).
    axis: dict = {"title": title, "rangemode": "tozero", "tickmode": "auto", "tickformat": ",d"}
    if top <= 10:
        axis.update(tickmode="linear", tick0=0, dtick=1, range=[0, max(top, 1) * 1.1])
    return axis


def risk_over_time(user_risk: pd.DataFrame, start: date | None, end: date | None) -> go.Figure:
    """Per day: high-risk events (bars, right axis), mean and max user risk (lines, left axis)."""
    fig = _layout(go.Figure(), "Risk over time")
    if user_risk.empty or start is None or end is None:
        return _empty(fig, "No risk scores yet: run the risk assets (risk_scores, user_risk_daily)")
    daily = (
        user_risk.assign(day=user_risk["event_date"].map(lambda d: d.isoformat()))
        .groupby("day")
        .agg(mean_risk=("risk_score", "mean"), max_risk=("risk_score", "max"), high_risk_events=("high_risk_events", "sum"))
        .reindex(days_in(start, end))
    )
    x = list(daily.index)
    fig.add_bar(
        x=x, y=daily["high_risk_events"].fillna(0).astype(int), name="high-risk events", yaxis="y2",
        marker_color="#ffc9c9", hovertemplate="%{x}<br>%{y} high-risk events<extra></extra>",
    )
    fig.add_scatter(
        x=x, y=daily["max_risk"].round(1), name="max user risk", mode="lines+markers", line={"color": "#c92a2a"},
        connectgaps=False, hovertemplate="%{x}<br>max risk %{y}<extra></extra>",
    )
    fig.add_scatter(
        x=x, y=daily["mean_risk"].round(2), name="mean user risk", mode="lines+markers", line={"color": RISK_COLOUR},
        connectgaps=False, hovertemplate="%{x}<br>mean risk %{y}<extra></extra>",
    )
    high_axis = _count_axis("high-risk events", float(daily["high_risk_events"].max(skipna=True) or 0))
    fig.update_layout(
        xaxis=_day_axis(x),
        yaxis={"title": "user risk (0-100)", "range": [0, 105]},
        yaxis2={**high_axis, "overlaying": "y", "side": "right", "showgrid": False},
        bargap=0.3,
    )
    return fig


def top_users(top: pd.DataFrame, day: date | None) -> go.Figure:
    """Horizontal bars: the day's riskiest users, coloured by their alert severity, reasons as labels."""
    title = f"Top risky users on {day.isoformat()}" if day else "Top risky users"
    fig = _layout(go.Figure(), title, height=max(HEIGHT, 60 + 28 * len(top)))
    if top.empty:
        return _empty(fig, "No users scored on this day")
    ordered = top.iloc[::-1]  # plotly draws the first category at the bottom
    severity = ordered["alert_severity"].fillna("none")
    fig.add_bar(
        x=ordered["risk_score"].round(1),
        y=ordered["user_id"],
        orientation="h",
        marker_color=[SEVERITY_COLOURS.get(s, SEVERITY_COLOURS["none"]) for s in severity],
        text=ordered["reasons"],
        textposition="auto",
        customdata=list(zip(severity, ordered["max_event_score"], ordered["high_risk_events"])),
        hovertemplate="%{y}: risk %{x}<br>reasons: %{text}<br>alert: %{customdata[0]}"
        "<br>max event score %{customdata[1]}, high-risk events %{customdata[2]}<extra></extra>",
        name="risk",
        showlegend=False,
    )
    fig.update_layout(xaxis={"title": "accumulated risk (0-100)", "range": [0, 105]}, yaxis={"type": "category"})
    return fig


def alert_volume(alerts: pd.DataFrame, start: date | None, end: date | None) -> go.Figure:
    """Stacked bars: alerts per day by severity, every day of the window shown (zero days too)."""
    fig = _layout(go.Figure(), "Alert volume by severity")
    if alerts.empty or start is None or end is None:
        span = f" ({start.isoformat()} to {end.isoformat()})" if start and end else ""
        return _empty(fig, f"No alerts in range{span}")
    days = days_in(start, end)
    counts = (
        alerts.assign(day=alerts["event_date"].map(lambda d: d.isoformat()))
        .groupby(["day", "severity"])
        .size()
        .unstack(fill_value=0)
        .reindex(index=days, fill_value=0)
    )
    for severity in SEVERITIES + tuple(sorted(set(counts.columns) - set(SEVERITIES))):
        if severity in counts.columns:
            fig.add_bar(
                x=days, y=counts[severity], name=severity, marker_color=SEVERITY_COLOURS.get(severity, "#868e96"),
                hovertemplate=f"%{{x}}<br>%{{y}} {severity} alerts<extra></extra>",
            )
    fig.update_layout(barmode="stack", xaxis=_day_axis(days), yaxis=_count_axis("alerts", float(counts.sum(axis=1).max())))
    return fig


def bucket_hosts(hosts: pd.DataFrame) -> pd.DataFrame:
    """Count computers per bucket of distinct users over the lookback (every bucket listed)."""
    users = hosts["distinct_users_lookback"] if not hosts.empty else pd.Series([], dtype="int64")
    rows = []
    for label, low, high in USER_BUCKETS:
        mask = users >= low if high is None else users.between(low, high)
        rows.append({"bucket": label, "hosts": int(mask.sum())})
    return pd.DataFrame(rows)


def host_popularity(hosts: pd.DataFrame, day: date | None) -> go.Figure:
    """Bars: how many computers are used by 1, 2, 3-5 ... users over the lookback; the rare end is what alerts look at."""
    title = f"Host popularity on {day.isoformat()}" if day else "Host popularity"
    fig = _layout(go.Figure(), title)
    if hosts.empty:
        return _empty(fig, "No host popularity yet: run the gold assets")
    buckets = bucket_hosts(hosts)
    colours = ["#c92a2a" if b in ("1", "2") else "#4c6ef5" for b in buckets["bucket"]]
    fig.add_bar(
        x=buckets["bucket"], y=buckets["hosts"], marker_color=colours, name="computers", showlegend=False,
        hovertemplate="%{y} computers used by %{x} users<extra></extra>",
    )
    fig.update_layout(
        xaxis={"type": "category", "title": "distinct users over the lookback"},
        yaxis=_count_axis("computers", float(buckets["hosts"].max())),
    )
    return fig
