"""The streaming job scores with the batch code: same risk_scores, user_risk_daily and alerts, alerts sent once.

A realistic shape: eight days of history are loaded by the batch path, then
the ninth day (with a lateral-movement attack on it) arrives through the
stream. The same file goes wholly through the batch path in a second data
home, and the two are compared table by table for that day.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from authpulse_dagster import notify
from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.lanl.generator import generate
from authpulse_dagster.lanl.scenarios import Difficulty
from authpulse_dagster.live.stream_job import BatchProcessor
from authpulse_dagster.steps.context import StepContext, days_between
from authpulse_dagster.steps.registry import PIPELINE_STEPS as STEPS, run_step
from tests.live.kinesis_rows import as_batch, records_for

FIRST, LAST = date(2024, 1, 1), date(2024, 1, 9)


def rows_for_day(catalog, name: str, day: date, drop: tuple[str, ...] = ()) -> list[tuple]:
    data = catalog.load_table(f"authpulse.{name}").scan(row_filter=f"event_date = '{day}'").to_arrow()
    data = data.drop_columns([c for c in drop if c in data.column_names])
    return sorted((tuple(r.values()) for r in data.to_pylist()), key=repr)


@pytest.mark.slow
def test_streaming_scores_equal_batch_scores_and_alerts_go_out_once(aws_resources, aws_env, spark, tmp_path):
    whole = tmp_path / "auth.txt"
    generate(
        whole, users=40, computers=80, days=9, seed=5, events_per_user_day=30, progress=False, fmt="lanl2015",
        attacks=Difficulty(victims=1, start_day=8).scenarios("lateral_movement", "lanl2015"), labels=tmp_path / "labels.txt",
    )
    history = tmp_path / "history.txt"
    history.write_bytes(b"".join(line for line in whole.read_bytes().splitlines(keepends=True) if int(line.split(b",")[0]) < 8 * 86400))

    batch = replace(aws_env, home=tmp_path / "batch-home")
    (batch.landing_dir / "lanl2015").mkdir(parents=True)
    (batch.landing_dir / "lanl2015" / whole.name).symlink_to(whole)
    ctx = StepContext(batch, days_between(FIRST, LAST), "batch")
    for step in STEPS:
        run_step(step, ctx)

    stream = replace(aws_env, home=tmp_path / "stream-home")
    (stream.landing_dir / "lanl2015").mkdir(parents=True)
    (stream.landing_dir / "lanl2015" / whole.name).symlink_to(history)  # same name: same event ids
    history_ctx = StepContext(stream, days_between(FIRST, date(2024, 1, 8)), "history")
    for step in STEPS:
        run_step(step, history_ctx)
    live = [r for r in records_for(whole, "lanl2015", stream) if b'"event_date":"2024-01-09"' in r[0]]
    processor = BatchProcessor(stream, "test-stream", "s", publish_metrics=False)
    reports = [processor.process(as_batch(spark, live[i : i + 800], stream), b) for b, i in enumerate(range(0, len(live), 800))]
    assert len(reports) >= 2 and all(r.alert_error is None for r in reports)

    b_cat, s_cat = load_catalog(batch), load_catalog(stream)
    scores = rows_for_day(b_cat, "risk_scores", LAST)
    assert scores == rows_for_day(s_cat, "risk_scores", LAST)
    assert sum(1 for r in scores if r[6] > 0) > 10  # rules really fired on this day
    assert rows_for_day(b_cat, "user_risk_daily", LAST) == rows_for_day(s_cat, "user_risk_daily", LAST)
    timestamps = ("created_at", "updated_at")
    batch_alerts = rows_for_day(b_cat, "alerts", LAST, timestamps)
    assert batch_alerts and batch_alerts == rows_for_day(s_cat, "alerts", LAST, timestamps)

    # Both paths delivered through SNS to the queue, never the same alert and severity twice.
    # (The stream sees the day grow, so an alert may first go out lower and escalate once.)
    got = [m.body for m in notify.receive(aws_env, wait_seconds=2) if m.body["event_date"] == str(LAST)]
    day_alerts = {a[0] for a in batch_alerts}
    for path in ("batch", "stream"):
        sent = [(b["alert_id"], b["severity"]) for b in got if b["path"] == path]
        assert {a for a, _ in sent} == day_alerts, path
        assert len(sent) == len(set(sent)), path
    assert sum(r.alerts_sent for r in reports) == sum(1 for b in got if b["path"] == "stream")
    # Replaying the last micro-batch (what Spark does after a crash) sends nothing new.
    processor.process(as_batch(spark, live[800 * (len(reports) - 1) :], stream), len(reports) - 1)
    assert notify.receive(aws_env, wait_seconds=1) == []
