"""Save a PNG of the dashboard page: ``python -m authpulse_dagster.dashboard.screenshot OUT.png``.

Opens ``$AUTHPULSE_HOME/dashboard/index.html`` (or ``--html PATH``) in headless
Chromium through Playwright, waits until every chart has drawn, and writes a
full-page screenshot, e.g. for ``docs/dashboard.png``. Needs the dev extra
(``playwright``) and a Chromium binary (Debian's ``chromium`` package by
default; ``--chromium PATH`` or ``AUTHPULSE_CHROMIUM`` for another).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from authpulse_dagster.dashboard.build import CHART_IDS
from authpulse_dagster.dashboard.chromium import CHROMIUM_ARGS, DEFAULT_CHROMIUM
from authpulse_dagster.dashboard.io import dashboard_path
from authpulse_dagster.settings import Settings

# True once every chart div has been drawn by plotly (its layout computed and an SVG in place).
CHARTS_DRAWN_JS = """ids => ids.every(id => {
  const gd = document.getElementById(id);
  return gd && gd._fullLayout && gd.querySelector('.main-svg');
})"""


def screenshot(html: Path, out: Path, chromium: str = DEFAULT_CHROMIUM, width: int = 1400) -> Path:
    from playwright.sync_api import sync_playwright

    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(html.resolve().as_uri())
            page.wait_for_function(CHARTS_DRAWN_JS, arg=list(CHART_IDS), timeout=30_000)
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m authpulse_dagster.dashboard.screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="PNG file to write")
    parser.add_argument("--html", type=Path, default=None, help="page to open (default: the dashboard under AUTHPULSE_HOME)")
    parser.add_argument("--chromium", default=os.environ.get("AUTHPULSE_CHROMIUM", DEFAULT_CHROMIUM))
    parser.add_argument("--width", type=int, default=1400, help="viewport width in pixels")
    args = parser.parse_args(argv)
    html = args.html or dashboard_path(Settings.from_env())
    if not html.exists():
        parser.error(f"{html} does not exist; materialize the risk_dashboard asset first")
    print(screenshot(html, args.out, args.chromium, args.width))


if __name__ == "__main__":
    main()
