"""The risk engine finds injected attacks with few false alarms (the issue's target, on a fixed seed).

Generator with every attack scenario → every batch step (one Spark
application, as a single-run backfill) → ``evaluate``. Alerts are delivered
to the per-test SNS topic on the session's moto server.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from authpulse_dagster import notify
from authpulse_dagster.evaluation.evaluate import evaluate
from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.lanl.generator import generate
from authpulse_dagster.lanl.scenarios import Difficulty
from authpulse_dagster.steps.context import StepContext, days_between
from authpulse_dagster.steps.registry import PIPELINE_STEPS as STEPS, run_step

USERS, DAYS, SEED = 1000, 14, 11


@pytest.mark.slow
def test_attacks_are_found_within_the_alert_budget(aws_resources, aws_env, spark):
    settings = aws_env
    labels = settings.home / "redteam.txt"
    generate(
        settings.landing_dir / "lanl2015" / "auth.txt.gz", users=USERS, computers=2 * USERS, days=DAYS, seed=SEED,
        events_per_user_day=50, progress=False, fmt="lanl2015", attacks=Difficulty().scenarios("all", "lanl2015"),
        labels=labels,
    )
    first = settings.dataset_epoch.date()
    ctx = StepContext(settings, days_between(first, first + timedelta(days=DAYS - 1)), run_id="e2e")
    for step in STEPS:
        run_step(step, ctx)

    report = evaluate(settings, labels)
    print(report.to_dict())
    assert report.overall.recall >= 0.9, report.to_dict()
    assert report.overall.alerts_per_day_per_1k <= 5.0, report.to_dict()
    assert report.passed
    # Every scenario is represented and found at least once.
    assert {s.scenario for s in report.scenarios} == {
        "lateral_movement", "rare_source", "dormant_wakeup", "slow_spread", "failed_logon_burst",
    }
    assert all(s.detected_users >= 1 for s in report.scenarios), report.to_dict()

    # Each alert went through SNS to the queue exactly once.
    alerts = load_catalog(settings).load_table("authpulse.alerts").scan().to_arrow()
    received = notify.receive(settings, wait_seconds=2)
    assert sorted(m.body["alert_id"] for m in received) == sorted(alerts["alert_id"].to_pylist())
    again = run_step("alert_deliveries", ctx).metadata["alert_deliveries"]  # a rerun sends nothing
    assert again["alerts_published"] == 0 and again["alerts_already_sent"] == len(received)
