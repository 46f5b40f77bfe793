"""``authpulse evaluate``: how well did the risk engine catch the labelled attacks?

A thin shell over :func:`authpulse_dagster.evaluation.evaluate.evaluate`: it
reads the labels written by ``authpulse generate --attacks`` (or the real LANL
``redteam.txt``) and the gold tables of the data home, and prints per scenario
and overall recall, precision, alert volume and PR-AUC, plus whether the
issue's target is met.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import click

from authpulse_dagster.evaluation.evaluate import evaluate as run_evaluation
from authpulse_dagster.evaluation.report import Target, render_table
from authpulse_dagster.cli import context as cli_context


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@click.command("evaluate")
@click.option(
    "--labels", "labels_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="Red-team labels (time,user@domain,src,dst); a <stem>.scenarios.json next to it adds per-scenario rows.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day evaluated [default: first day of auth_events].")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day evaluated [default: last day of auth_events].")
@click.option("--min-recall", type=click.FloatRange(0, 1), default=Target.min_recall, show_default=True, help="Target recall of attacked users.")
@click.option(
    "--max-alerts", type=click.FloatRange(min=0), default=Target.max_alerts_per_day_per_1k, show_default=True,
    help="Target ceiling on alerts per day per 1,000 users.",
)
@click.option("--strict", is_flag=True, help="Exit with code 1 when the target is not met (for CI).")
@click.pass_context
def evaluate(
    ctx: click.Context, labels_path: Path, as_json: bool, start: datetime | None, end: datetime | None,
    min_recall: float, max_alerts: float, strict: bool,
) -> None:
    """Compare alerts and daily risk scores with labelled attacks.

    An attacked user counts as detected with an alert from their first
    labelled day to the day after their last; precision is over all alerted
    users; PR-AUC is the average precision of user_risk_daily.risk_score over
    user-days (positive: the user has labelled events that day).

    \b
    Example:
      authpulse generate --days 14 --attacks all --out data/auth.txt.gz
      (run the pipeline and the risk engine on data/auth.txt.gz)
      authpulse evaluate --labels data/auth.redteam.txt
    """
    report = run_evaluation(
        cli_context.settings(), labels_path, _day(start), _day(end), Target(min_recall=min_recall, max_alerts_per_day_per_1k=max_alerts)
    )
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else render_table(report))
    if strict and not report.passed:
        ctx.exit(1)
