"""``authpulse stream``: the streaming job from the shell (same resource Dagster uses)."""

from __future__ import annotations

import sys
from dataclasses import asdict

import click

from authpulse_dagster.cli import context as cli_context
from authpulse_dagster.resources.streaming import StreamStatus
from authpulse_dagster.resources.streaming_for_env import streaming_resource


def _print(st: StreamStatus) -> None:
    for key in ("state", "pid", "last_batch_id", "last_progress", "millis_behind_latest", "processing_lag_ms", "log"):
        click.echo(f"{key}: {asdict(st)[key]}")
    if st.state == "failed" and st.detail.get("error"):
        click.echo(f"error: {st.detail['error']}")


@click.group()
def stream() -> None:
    """Start, stop and watch the Kinesis → Iceberg streaming job."""


@stream.command()
@click.option("--trigger-seconds", type=float, default=30.0, show_default=True, help="Micro-batch interval.")
@click.option("--max-records", type=int, default=50_000, show_default=True, help="Records per micro-batch at most.")
def start(trigger_seconds: float, max_records: int) -> None:
    """Start the streaming job in the background (no-op if it runs)."""
    _print(streaming_resource(cli_context.settings(), trigger_seconds=trigger_seconds, max_records_per_batch=max_records).start())


@stream.command()
def stop() -> None:
    """Stop it after the batch in flight."""
    _print(streaming_resource(cli_context.settings()).stop())


@stream.command()
def status() -> None:
    """Show its state; exit code 1 when it is not running."""
    st = streaming_resource(cli_context.settings()).status()
    _print(st)
    if not st.running:
        sys.exit(1)
