"""``authpulse replay``: send a LANL file to the Kinesis stream, line by line.

A thin shell over :func:`authpulse_dagster.live.producer.replay` that adds
what only a terminal needs: reaching the local stack, turning SIGINT/SIGTERM
into a clean stop (the call in flight finishes and the checkpoint is written),
and exit codes a script can act on: 5 when records failed for good, 130/143
after SIGINT/SIGTERM.
"""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import click

from authpulse_dagster import local_stack
from authpulse_dagster.errors import EnvironmentProblem, RecordsFailed
from authpulse_dagster.lanl.formats import FORMATS
from authpulse_dagster.lanl.readers import require_file
from authpulse_dagster.cli import context as cli_context
from authpulse_dagster.settings import LOCAL


_EXIT_AFTER = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _catch_signals(stop: threading.Event, received: list[int]) -> Callable[[], None]:
    """Make SIGINT/SIGTERM set ``stop``; return a function restoring the previous handlers.

    After the first signal the previous handlers come back, so a second
    Ctrl-C aborts at once (without the checkpoint of the call in flight).
    Nothing is printed from the handler: it could interrupt a write to the
    same stream.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in _EXIT_AFTER}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def handler(signum: int, _frame: Any) -> None:
        received.append(signum)
        stop.set()
        restore()

    for sig in _EXIT_AFTER:
        signal.signal(sig, handler)
    return restore


def _resume_command(params: dict[str, Any]) -> str:
    args = ["authpulse", "replay"]
    for name, value in params.items():
        if value is None or value is False or name in ("resume", "progress"):
            continue
        if name == "retry_budget" and value == 8:
            continue
        option = {"input_path": "input", "fmt": "format"}.get(name, name.replace("_", "-"))
        args += [f"--{option}", f"{value:g}" if isinstance(value, float) else str(value)]
    if not params.get("progress", True):
        args.append("--no-progress")
    return shlex.join([*args, "--resume"])


_POSITIVE = click.FloatRange(min=0, min_open=True)
_FILE = click.Path(path_type=Path, dir_okay=False)


@click.command("replay")
@click.option(
    "--input", "input_path", type=click.Path(path_type=Path), required=True,
    help="LANL file to replay (plain, gzip or bzip2).",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="Line format of the file.")
@click.option("--stream", default=None, help="Kinesis stream [default: AUTHPULSE_STREAM or authpulse-events].")
@click.option("--rate", type=_POSITIVE, default=None, help="Events per second (smooth token bucket).")
@click.option(
    "--speedup", type=_POSITIVE, default=None,
    help="Replay dataset time this many times faster than real time (not with --rate).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Send at most this many records in this run.")
@click.option(
    "--start-time", type=click.IntRange(min=0), default=None,
    help="Only lines whose dataset time is >= this (seconds); a line without a time goes with the line before it.",
)
@click.option(
    "--end-time", type=click.IntRange(min=0), default=None, help="Only lines whose dataset time is < this (seconds)."
)
@click.option("--resume", is_flag=True, help="Continue after the last settled line of the checkpoint.")
@click.option("--checkpoint", type=_FILE, default=None, help="Checkpoint file [default: under the data home's run/].")
@click.option(
    "--failed-file", type=_FILE, default=None,
    help="JSON Lines file that records rejected for good are appended to [default: next to the checkpoint].",
)
@click.option(
    "--retry-budget", type=click.IntRange(min=1), default=8, show_default=True,
    help="Attempts per record, the first included.",
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar on stderr.")
def replay(
    input_path: Path, fmt: str, stream: str | None, rate: float | None, speedup: float | None, limit: int | None,
    start_time: int | None, end_time: int | None, resume: bool, checkpoint: Path | None, failed_file: Path | None,
    retry_budget: int, progress: bool,
) -> None:  # fmt: skip
    """Replay a LANL file into Kinesis, one JSON record per line (schema authpulse.lanl.v1).

    Every line ends up sent, in the failed file, or skipped by the time
    window. Ctrl-C (or SIGTERM) finishes the call in flight, saves the
    checkpoint and prints the command that resumes.

    \b
    Example:
      authpulse replay --input data/auth.txt.gz --format lanl2014 --rate 500
    """
    # Imported here so `authpulse --help` stays fast.
    from authpulse_dagster.live.producer import replay as run_replay

    # Cheap mistakes first: a typo in the file name should not send anyone to start a stack.
    require_file(input_path)
    settings = cli_context.settings()
    if settings.env == LOCAL and local_stack.apply_local_environment(settings) is None:
        raise EnvironmentProblem("the local stack is not running; start it with `authpulse local up`")
    stop = threading.Event()
    received: list[int] = []
    restore = _catch_signals(stop, received)
    try:
        report = run_replay(
            input_path, fmt, settings, stream=stream, rate=rate, speedup=speedup, limit=limit,
            start_time=start_time, end_time=end_time, resume=resume, checkpoint=checkpoint,
            failed_file=failed_file, retry_budget=retry_budget, progress=progress, stop=stop,
        )  # fmt: skip
    finally:
        restore()
    click.echo(report.summary())
    if received:
        params = click.get_current_context().params
        click.echo(
            f"authpulse: stopped by {signal.Signals(received[0]).name}; checkpoint {report.checkpoint}; "
            f"resume with: {_resume_command(params)}",
            err=True,
        )
        if report.failed:
            click.echo(f"authpulse: {report.failed} records failed; they are in {report.failed_file}", err=True)
        # sys.exit, not a return value: the root command may run click with standalone_mode=False.
        sys.exit(_EXIT_AFTER.get(received[0], 130))
    if report.failed:
        raise RecordsFailed(
            f"{report.failed} records failed after {retry_budget} attempt(s) each; they are in {report.failed_file}"
        )
