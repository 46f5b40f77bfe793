"""``authpulse alerts tail``: print alert messages as they reach the local queue subscribed to the SNS topic."""

from __future__ import annotations

import json

import click

from authpulse_dagster import notify
from authpulse_dagster.local_stack import apply_local_environment
from authpulse_dagster.errors import EnvironmentProblem
from authpulse_dagster.cli import context as cli_context


@click.group()
def alerts() -> None:
    """Alerts delivered through SNS."""


@alerts.command()
@click.option("--seconds", type=float, default=None, help="Stop after this many seconds (default: until Ctrl-C).")
@click.option("--json", "as_json", is_flag=True, help="Print each message as one JSON line.")
def tail(seconds: float | None, as_json: bool) -> None:
    """Print messages from the alert topic's local queue as they arrive (they are consumed)."""
    settings = cli_context.settings()
    if settings.env == "aws":
        raise EnvironmentProblem("alerts tail reads the local queue; in AWS subscribe e-mail or a queue to the topic")
    if apply_local_environment(settings) is None:
        raise EnvironmentProblem("the local stack is not running; start it with 'authpulse local up'")
    for msg in notify.tail(settings, poll_seconds=2, stop_after=seconds):
        if as_json:
            click.echo(json.dumps({"message_id": msg.message_id, "attributes": msg.attributes, **msg.body}, sort_keys=True))
        else:
            click.echo(render(msg))


def render(msg: notify.Received) -> str:
    b = msg.body
    if b.get("kind") == "risk_alert":
        extra = f" (escalated from {b['escalated_from']})" if b.get("escalated_from") else ""
        return (
            f"{b['sent_at']}  {b['severity'].upper():<8} {b['user_id']:<10} {b['event_date']}  score {b['score']:5.1f}  "
            f"{', '.join(b['reasons'])}  [{b['event_count']} events, {b['path']}]{extra}"
        )
    return f"{b.get('sent_at', '')}  {b.get('kind', '?').upper():<8} {b.get('subject', '')}"
