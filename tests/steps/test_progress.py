"""The one line per finished step that `authpulse run` / `demo` print while Dagster works."""

from datetime import date

from authpulse_dagster.demo import step_progress
from authpulse_dagster.steps.context import StepResult
from authpulse_dagster.steps.registry import log, progress_line


def test_a_line_names_the_step_its_days_each_table_rows_and_seconds():
    result = StepResult(metadata={"auth_events": {"rows": 600112}, "quarantine": {"rows": 88}, "note": "x"})
    line = progress_line("silver", [date(2024, 1, 1), date(2024, 1, 12)], result, 41.24)
    assert line == "silver 2024-01-01..2024-01-12: auth_events 600,112 rows, quarantine 88 rows (41.2 s)"
    assert progress_line("table_maintenance", [], StepResult(metadata={}), 3.0) == "table_maintenance -: done (3.0 s)"


def test_the_demo_echoes_step_lines_only_while_it_runs():
    seen: list[str] = []
    with step_progress(seen.append):
        log.info("%s", "silver 2024-01-01: auth_events 1 rows (0.1 s)")
    log.info("%s", "after the run")
    assert seen == ["  silver 2024-01-01: auth_events 1 rows (0.1 s)"]
