"""The Dagster UI as a person uses it: `dagster dev` on a temporary instance, driven in headless Chromium.

The test lands two generated days, starts `dagster dev` (webserver and daemon) with the
project's workspace.yaml, and then, in the browser only:

1. opens the global asset lineage, expands every group and checks that every asset of the
   Definitions is drawn inside the box of its own group;
2. clicks "Materialize all", types a range of two partitions, launches the backfill and
   follows the toast's "View" link to the backfill page;
3. waits there until the backfill is shown as succeeded, every asset with 2 of 2 partitions.

GraphQL is used only to wait: for the code location to load, and for the backfill's status
(the daemon needs a minute or so). Screenshots go to the test's tmp_path; with
AUTHPULSE_UPDATE_SCREENSHOTS=1 they also replace docs/ui-asset-graph.png and docs/ui-backfill.png.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from authpulse_dagster.definitions import build_definitions
from authpulse_dagster.lanl.generator import generate
from authpulse_dagster.local_stack import find_free_port
from authpulse_dagster.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
FIRST_DAY, LAST_DAY = "2024-01-01", "2024-01-02"
DAYS = 2  # a range, the smallest one; each day is one more run of every asset
VIEWPORT = {"width": 1600, "height": 1600}  # tall enough for the whole asset graph at a readable zoom
STARTUP_SECONDS = 120
BACKFILL_SECONDS = 300  # 14 assets x 2 days on 2 cores, the daemon launching them one run at a time
# Backfill statuses after which waiting longer cannot bring success.
STOP_WAITING = {"COMPLETED_SUCCESS", "COMPLETED_FAILED", "COMPLETED", "FAILED", "CANCELED", "FAILING", "CANCELING"}


class DagsterDev:
    """A running `dagster dev` in its own process group, with its log file."""

    def __init__(self, url: str, proc: subprocess.Popen, log: Path):
        self.url, self.proc, self.log = url, proc, log

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(f"{self.url}/graphql", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            out = json.load(resp)
        assert "errors" not in out, out["errors"]
        return out["data"]

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()[-lines:])

    def assert_alive(self) -> None:
        assert self.proc.poll() is None, f"dagster dev exited with {self.proc.returncode}:\n{self.log_tail()}"


WORKSPACE_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""

BACKFILL_QUERY = """
query ($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status error { message } }
    ... on PythonError { message }
  }
}
"""


def _ui_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHPULSE_", "DAGSTER_"))}
    env.update(
        AUTHPULSE_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
        AUTHPULSE_ENV="local",
        AUTHPULSE_DATASET_EPOCH=f"{FIRST_DAY}T00:00:00Z",
        # Sensors (and the schedule) would start by themselves on a local instance and add
        # their own runs; this test watches one backfill.
        AUTHPULSE_SENSORS="off",
        AUTHPULSE_SPARK_MASTER="local[2]",
        AUTHPULSE_SPARK_SHUFFLE_PARTITIONS="4",
        AUTHPULSE_SPARK_DRIVER_MEMORY="1g",
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
    )
    return env


def _wait_until_loaded(dev: DagsterDev) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last = None
    while time.monotonic() < deadline:
        dev.assert_alive()
        try:
            data = dev.graphql(WORKSPACE_QUERY)["workspaceOrError"]
            entries = data.get("locationEntries") or []
            last = entries
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                errors = [e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"]
                assert not errors, f"the code location failed to load: {errors}"
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    pytest.fail(f"dagster dev did not load the code location in {STARTUP_SECONDS} s ({last}):\n{dev.log_tail()}")


def _stop(proc: subprocess.Popen) -> None:
    """End dagster dev and everything it started (webserver, daemon, code server, run workers, Spark)."""
    pgid = proc.pid  # start_new_session=True: the process leads its own group
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            proc.poll()
            try:
                os.killpg(pgid, 0)  # anyone left in the group?
            except ProcessLookupError:
                return
            time.sleep(0.5)
    proc.wait(timeout=10)


@pytest.fixture
def dagster_dev(tmp_path: Path):
    home = tmp_path / "home"
    env = _ui_env(home)
    settings = Settings.from_env(env)
    # Data the backfill can run on: 50 users over two days, in the landing folder bronze reads.
    landed = settings.landing_dir / "lanl2014" / "ui-test.txt"
    landed.parent.mkdir(parents=True, exist_ok=True)
    generate(landed, users=50, computers=100, days=DAYS, seed=11, events_per_user_day=60, progress=False)
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    (settings.dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")

    port = find_free_port()
    log = tmp_path / "dagster-dev.log"
    dagster = shutil.which("dagster", path=str(Path(sys.executable).parent)) or "dagster"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [dagster, "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    dev = DagsterDev(f"http://127.0.0.1:{port}", proc, log)
    try:
        _wait_until_loaded(dev)
        yield dev, settings
    finally:
        _stop(proc)


def _save(page: Page, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("AUTHPULSE_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS / name)
    return shot


def _new_page(browser) -> Page:
    """A fresh browser context (clean local storage), as a first-time visitor."""
    context = browser.new_context(viewport=VIEWPORT)
    # A first visit opens a "Join the Dagster community" dialog; mark it as seen, as "Skip" would.
    context.add_init_script("window.localStorage.setItem('communityNux', '\"1\"')")
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page


def _open_lineage(page: Page, url: str) -> None:
    """The global asset lineage with every group expanded and the whole graph in view."""
    page.goto(f"{url}/asset-groups")
    expect(page.get_by_role("button", name=re.compile("Materialize all"))).to_be_visible()
    toolbar = page.locator("#zoom-slider-container")  # the graph's own buttons, bottom right
    toolbar.get_by_role("button", name="settings", exact=True).click()
    page.get_by_role("menuitem", name=re.compile("Expand all groups")).click()
    page.keyboard.press("Escape")
    # Room for the graph: fold the asset sidebar and the main navigation.
    page.get_by_role("button", name="panel_show_right", exact=True).click()
    page.get_by_role("navigation").get_by_role("button", name=re.compile("Hide navigation")).click()
    # A double click on the background fits the whole graph into view; the background is wherever no
    # node or group box is drawn (where that is depends on the graph's layout, so it is looked up).
    viewport = toolbar.locator("xpath=..").bounding_box()
    spot = page.evaluate(
        """([x0, y0, w, h]) => {
            for (let fy = 0.05; fy < 1; fy += 0.05) for (let fx = 0.05; fx < 0.9; fx += 0.05) {
                const x = x0 + fx * w, y = y0 + fy * h, el = document.elementFromPoint(x, y);
                if (el && el.closest("svg") && !el.closest("foreignObject") && !el.closest("button")) return [x, y];
            }
            return null;
        }""",
        [viewport["x"], viewport["y"], viewport["width"], viewport["height"]],
    )
    assert spot, "no background left to double-click in the asset graph"
    page.mouse.dblclick(*spot)
    page.wait_for_timeout(1000)


def _check_groups(page: Page, expected: dict[str, str]) -> None:
    """Every asset is drawn, and drawn inside its own group's box.

    The graph animates its zoom after the fit; on a loaded machine that can outlast the wait, and a
    box measured before the animation ends does not hold labels measured after it. So the boxes are
    measured before and after the labels, and the whole reading is repeated until they agree."""

    def group_boxes() -> dict:
        boxes = {}
        for group in sorted(set(expected.values())):
            outline = page.locator(f'svg foreignObject.group:has([data-tooltip="{group}"])')
            expect(outline).to_be_visible()
            boxes[group] = outline.bounding_box()
        return boxes

    for _ in range(10):
        boxes = group_boxes()
        placed = {}
        for name, group in expected.items():
            label = page.locator("svg foreignObject:not(.group)").get_by_text(name, exact=True).filter(visible=True).first
            expect(label).to_be_visible()
            b = label.bounding_box()
            cx, cy = b["x"] + b["width"] / 2, b["y"] + b["height"] / 2
            placed[name] = [g for g, o in boxes.items()
                            if o["x"] <= cx <= o["x"] + o["width"] and o["y"] <= cy <= o["y"] + o["height"]]
        if group_boxes() == boxes:
            break
        page.wait_for_timeout(1000)  # still moving
    assert placed == {name: [group] for name, group in expected.items()}


@pytest.mark.slow
@pytest.mark.timeout(540)
def test_asset_graph_and_a_two_day_backfill_in_the_ui(dagster_dev, browser, tmp_path):
    dev, settings = dagster_dev
    graph = build_definitions(settings).resolve_asset_graph()
    nodes = [graph.get(k) for k in graph.get_all_asset_keys()]
    expected = {n.key.path[-1]: n.group_name for n in nodes}
    materializable = sorted(n.key.path[-1] for n in nodes if n.is_materializable)
    partitioned = sorted("/".join(n.key.path) for n in nodes if n.is_materializable and n.partitions_def is not None)
    assert len(expected) == len(nodes) and partitioned, expected  # names are unique; something to backfill

    page = _new_page(browser)
    try:
        # 1. The asset graph: every asset, inside its group.
        _open_lineage(page, dev.url)
        _check_groups(page, expected)

        # 2. A backfill of two days, launched from "Materialize all".
        page.get_by_role("button", name=f"Materialize all ({len(materializable)})…").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text(f"Launch runs to materialize {len(materializable)} assets")
        # The dialog opens on the last 90 days; the dataset's first days are older than that.
        dialog.get_by_text("Show all partitions").click()
        selection = dialog.locator("input[type=text]")
        selection.fill(f"[{FIRST_DAY}...{LAST_DAY}]")
        selection.press("Enter")
        expect(dialog).to_contain_text(f"{DAYS} partitions")
        dialog.get_by_role("button", name="Launch backfill").click()
        toast = page.get_by_text(re.compile(r"Created backfill \w+"))
        expect(toast).to_be_visible()
        backfill_id = re.search(r"Created backfill (\w+)", toast.inner_text()).group(1)
        page.get_by_role("link", name="View").click()
        page.mouse.move(VIEWPORT["width"] / 2, 10)  # off the toast, so it can go away
        expect(page).to_have_url(re.compile(rf"/runs/b/{backfill_id}"))
        expect(page.get_by_text(f"{FIRST_DAY}...{LAST_DAY}")).to_be_visible()

        # 3. Wait for the daemon to run it; the page follows by itself.
        deadline, status = time.monotonic() + BACKFILL_SECONDS, None
        while time.monotonic() < deadline:
            dev.assert_alive()
            result = dev.graphql(BACKFILL_QUERY, {"id": backfill_id})["partitionBackfillOrError"]
            status = result.get("status")
            if status in STOP_WAITING:
                break
            time.sleep(3)
        assert status == "COMPLETED_SUCCESS", f"backfill {backfill_id} ended {status}: {result}\n{dev.log_tail()}"

        status_box = page.get_by_text("Status", exact=True).locator("xpath=..")  # the label and its tag
        expect(status_box).to_have_text(re.compile(r"^\s*Status\s+Succeeded\s*$"), use_inner_text=True, timeout=30_000)
        # The table draws only the rows in view: make room for all of them while checking.
        page.set_viewport_size({"width": VIEWPORT["width"], "height": 400 + 80 * len(partitioned)})
        for path in partitioned:
            row = page.locator("[class*=VirtualizedTable_row]").filter(has=page.locator(f'a[href="/assets/{path}"]'))
            # partitions targeted, in progress, succeeded, failed
            expect(row).to_contain_text(re.compile(rf"\b{DAYS}\s+0\s+{DAYS}\s+0\s*$"), use_inner_text=True)
        page.set_viewport_size(VIEWPORT)
        expect(toast).to_be_hidden()
        _save(page, tmp_path, "ui-backfill.png")

        # The graph again, after the backfill, for the screenshot.
        page.context.close()
        page = _new_page(browser)
        _open_lineage(page, dev.url)
        _check_groups(page, expected)
        _save(page, tmp_path, "ui-asset-graph.png")
    except Exception:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise
    finally:
        page.context.close()
