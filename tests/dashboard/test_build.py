"""The pure page builder: every chart present, plotly.js inlined once, empty data handled."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

import pandas as pd
import plotly

from authpulse_dagster.dashboard import charts
from authpulse_dagster.dashboard.build import CHART_IDS, DashboardData, build_page, one_decimal, top_users_frame

D3, D4, D5 = date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 5)
GENERATED = datetime(2024, 2, 1, 12, 30, 5, tzinfo=timezone.utc)


def user_risk(rows: list[tuple]) -> pd.DataFrame:
    columns = ["user_id", "event_date", "risk_score", "day_score", "max_event_score", "high_risk_events", "events", "top_reasons"]
    return pd.DataFrame(rows, columns=columns)


def sample() -> DashboardData:
    return DashboardData(
        as_of=D5,
        start=D3,
        user_risk=user_risk([
            ("U1", D3, 10.0, 10.0, 40, 0, 9, []),
            ("U1", D5, 92.5, 91.0, 90, 2, 13, ["new_host", "rare_host"]),
            ("U2", D5, 60.25, 42.75, 55, 1, 5, ["burst"]),
            ("<img src=x onerror=alert(1)>", D5, 5.0, 5.0, 10, 0, 1, ["odd <b>"]),
        ]),
        alerts=pd.DataFrame(
            [("al-1", "U1", D5, "critical", 92.5), ("al-0", "U2", D3, "medium", 30.0)],
            columns=["alert_id", "user_id", "event_date", "severity", "score"],
        ),
        hosts=pd.DataFrame(
            [("C1", D5, 1, 1.1), ("C2", D5, 2, 0.9), ("C3", D5, 4, 0.5), ("C4", D5, 150, 0.01)],
            columns=["computer_id", "event_date", "distinct_users_lookback", "rarity"],
        ),
        hosts_day=D5,
    )


def test_page_has_every_chart_once_and_plotly_once():
    page = build_page(sample(), generated_at=GENERATED)
    assert page.charts == CHART_IDS
    for chart_id in CHART_IDS:
        assert page.html.count(f'id="{chart_id}"') == 1, chart_id
        assert len(re.findall(rf'Plotly\.newPlot\(\s*"{chart_id}"', page.html)) == 1, chart_id
    assert page.html.count("* plotly.js v") == 1
    assert plotly.offline.get_plotlyjs()[:200] in page.html
    assert len(page.html) > 1_000_000  # the library itself is in the page


def test_page_is_self_contained():
    html = build_page(sample(), generated_at=GENERATED).html
    assert not re.search(r"<script[^>]+src=", html)
    assert "<link" not in html
    assert "cdn.plot.ly" not in html.split("<script type=\"text/javascript\">", 1)[0]


def test_header_names_the_day_and_the_time():
    html = build_page(sample(), generated_at=GENERATED).html
    assert '<b id="data-as-of">2024-01-05</b> (window 2024-01-03 to 2024-01-05)' in html
    assert '<span id="generated-at">2024-02-01 12:30:05 UTC</span>' in html


def test_top_users_table_and_escaping():
    data = sample()
    top = top_users_frame(data)
    assert list(top["user_id"]) == ["U1", "U2", "<img src=x onerror=alert(1)>"]
    assert list(top["alert_severity"]) == ["critical", None, None]  # U2's alert was on another day
    assert list(top["reasons"]) == ["new_host, rare_host", "burst", "odd <b>"]
    html = build_page(data, generated_at=GENERATED).html
    table = html[html.index('<table id="top-users-table">'):]
    assert table.count("<tr>") == 4  # header + 3 users
    assert "<td>U2</td><td class=num>60.3</td>" in table  # half up, like the SQL engines
    assert "&lt;img src=x onerror=alert(1)&gt;" in table and "<img src=x" not in table
    assert '<span class="sev sev-critical">critical</span> al-1' in table


def test_empty_data_still_builds_every_chart_with_explanations():
    page = build_page(DashboardData(), generated_at=GENERATED)
    for chart_id in CHART_IDS:
        assert f'id="{chart_id}"' in page.html
    for message in ("No risk scores yet", "No users scored on this day", "No alerts in range", "No host popularity yet"):
        assert message in page.html
    assert '<b id="data-as-of">no data yet</b>' in page.html
    assert 'id="top-users-empty"' in page.html and page.top_users == 0


def test_no_alerts_is_explained_with_the_range():
    data = sample()
    data.alerts = data.alerts.iloc[0:0]
    fig = charts.alert_volume(data.alerts, data.start, data.as_of)
    assert len(fig.data) == 0
    assert [a.text for a in fig.layout.annotations] == ["No alerts in range (2024-01-03 to 2024-01-05)"]
    assert "No alerts in range (2024-01-03 to 2024-01-05)" in build_page(data, generated_at=GENERATED).html


def test_risk_over_time_covers_every_day_of_the_window():
    data = sample()
    fig = charts.risk_over_time(data.user_risk, data.start, data.as_of)
    bars, max_line, mean_line = fig.data
    assert list(bars.x) == ["2024-01-03", "2024-01-04", "2024-01-05"]
    assert list(bars.y) == [0, 0, 3]
    assert list(max_line.y)[0] == 10.0 and pd.isna(list(max_line.y)[1]) and list(max_line.y)[2] == 92.5
    assert round(list(mean_line.y)[2], 2) == round((92.5 + 60.25 + 5.0) / 3, 2)


def test_alert_volume_stacks_severities_per_day():
    data = sample()
    fig = charts.alert_volume(data.alerts, data.start, data.as_of)
    assert fig.layout.barmode == "stack"
    by_name = {t.name: list(t.y) for t in fig.data}
    assert by_name == {"medium": [1, 0, 0], "critical": [0, 0, 1]}


def test_host_buckets():
    buckets = charts.bucket_hosts(sample().hosts)
    assert dict(zip(buckets["bucket"], buckets["hosts"])) == {
        "1": 1, "2": 1, "3-5": 1, "6-10": 0, "11-25": 0, "26-100": 0, "over 100": 1,
    }


def test_one_decimal_rounds_half_up():
    assert [one_decimal(v) for v in (60.25, 92.5, 0.04, 99.95)] == ["60.3", "92.5", "0.0", "100.0"]
