"""The written dashboard page in headless Chromium: every chart draws, with no console errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from authpulse_dagster.dashboard.build import CHART_IDS
from authpulse_dagster.dashboard.screenshot import CHARTS_DRAWN_JS
from authpulse_dagster.steps.context import StepContext
from authpulse_dagster.steps.dashboard import run_dashboard
from tests.queries.seed import seed

# What plotly drew in each chart div: its layout object, SVG layers, size, traces, bars and annotations.
INSPECT_JS = """ids => Object.fromEntries(ids.map(id => {
  const gd = document.getElementById(id);
  const box = gd.getBoundingClientRect();
  const drawn = [...gd.querySelectorAll('.bars .point path')].filter(p => {
    const b = p.getBBox(); return b.width > 0 && b.height > 0; });
  return [id, {
    hasLayout: !!gd._fullLayout,
    svgs: gd.querySelectorAll('.main-svg').length,
    width: box.width, height: box.height,
    traces: (gd._fullData || []).map(t => t.name),
    bars: drawn.length,
    lines: gd.querySelectorAll('.scatterlayer .js-line').length,
    annotations: [...gd.querySelectorAll('.annotation-text')].map(e => e.textContent),
    yticks: [...gd.querySelectorAll('.ytick text')].map(e => e.textContent),
  }];
}))"""


def open_dashboard(browser, path, resize_to: int | None = None):
    """Load the page from disk; return what each chart drew, the table, the as-of day and every problem seen.

    With ``resize_to``, the window is then narrowed to that width and the
    chart widths after plotly's responsive relayout are returned too.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: problems.append(f"network request: {r.url}") if not r.url.startswith(("file:", "data:")) else None)
    try:
        page.goto(path.resolve().as_uri())
        page.wait_for_function(CHARTS_DRAWN_JS, arg=list(CHART_IDS), timeout=30_000)
        charts = page.evaluate(INSPECT_JS, list(CHART_IDS))
        table_rows = page.locator("#top-users-table tbody tr").all_inner_texts()
        as_of = page.locator("#data-as-of").inner_text()
        widths: list[float] = []
        if resize_to:
            page.set_viewport_size({"width": resize_to, "height": 900})
            page.wait_for_function(
                "([ids, w]) => ids.every(id => document.getElementById(id).querySelector('.main-svg').getBoundingClientRect().width <= w)",
                arg=[list(CHART_IDS), resize_to],
                timeout=10_000,
            )
            widths = page.evaluate("ids => ids.map(id => document.getElementById(id).getBoundingClientRect().width)", list(CHART_IDS))
    finally:
        context.close()
    return charts, table_rows, as_of, problems, widths


def _written_page(settings) -> Path:
    """Run the real dashboard step on ``settings``' data home and return the page it wrote."""
    result = run_dashboard(StepContext(settings, [date(2024, 1, 6)], run_id="browser-test"))
    return Path(result.metadata["risk_dashboard"]["path"])


def assert_every_chart_rendered(charts: dict) -> None:
    assert set(charts) == set(CHART_IDS)
    for chart_id, chart in charts.items():
        assert chart["hasLayout"], chart_id
        assert chart["svgs"] >= 1, chart_id
        assert chart["width"] > 300 and chart["height"] > 300, (chart_id, chart["width"], chart["height"])


def test_every_chart_renders_with_data(browser, settings, catalog):
    seed(catalog, only=("user_risk_daily", "alerts", "host_popularity"))
    charts, table_rows, as_of, problems, narrow_widths = open_dashboard(browser, _written_page(settings), resize_to=700)
    assert problems == []
    assert_every_chart_rendered(charts)
    assert as_of == "2024-01-05"
    assert all(300 < w <= 700 for w in narrow_widths), narrow_widths  # charts follow a narrower window

    risk = charts["chart-risk-over-time"]
    assert risk["traces"] == ["high-risk events", "max user risk", "mean user risk"]
    assert risk["bars"] == 2 and risk["lines"] >= 2  # high-risk events on days 3 and 5; two risk lines
    top = charts["chart-top-users"]
    assert top["bars"] == 2 and top["yticks"] == ["U3", "U2", "U1"]  # U3's risk is 0: a bar of no length
    alerts = charts["chart-alert-volume"]
    assert alerts["traces"] == ["medium", "high", "critical"] and alerts["bars"] == 3
    assert alerts["yticks"] == ["0", "1", "2"]
    hosts = charts["chart-host-popularity"]
    assert hosts["bars"] == 2 and hosts["yticks"] == ["0", "1", "2", "3"]
    assert all(c["annotations"] == [] for c in charts.values())

    assert len(table_rows) == 3
    assert table_rows[0].split("\t")[:3] == ["1", "U1", "92.5"] and "critical" in table_rows[0]
    assert "new_host, off_hours, rare_host" in table_rows[0]


def test_charts_without_data_render_an_explanation(browser, settings, catalog):
    seed(catalog, only=("host_popularity",))  # gold ran, the risk engine has not
    charts, table_rows, as_of, problems, _ = open_dashboard(browser, _written_page(settings))
    assert problems == []
    assert_every_chart_rendered(charts)
    assert as_of == "2024-01-05"
    assert charts["chart-risk-over-time"]["annotations"] == ["No risk scores yet: run the risk assets (risk_scores, user_risk_daily)"]
    assert charts["chart-top-users"]["annotations"] == ["No users scored on this day"]
    assert charts["chart-alert-volume"]["annotations"] == ["No alerts in range (2024-01-05 to 2024-01-05)"]
    assert charts["chart-alert-volume"]["traces"] == []
    assert charts["chart-host-popularity"]["bars"] == 2
    assert table_rows == []
