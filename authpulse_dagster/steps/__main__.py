"""Run one step as its own program: ``python -m authpulse_dagster.steps STEP --start D --end D``.

This is the entry point a remote runner submits (spark-submit on EMR, a
subprocess locally). Launched through Dagster Pipes, it reports each asset's
materialization and the check outcomes back to the orchestrating run; launched
by hand, it prints the result as JSON.

How it talks to Dagster follows from how it was launched: Pipes parameters come
from ``--dagster-pipes-context/--dagster-pipes-messages`` arguments (a step on an
existing EMR cluster) or from ``DAGSTER_PIPES_*`` environment variables (a local
subprocess, a transient EMR cluster); context and messages go through S3 when the
parameters name a bucket (EMR), through files/stdio otherwise (local).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from datetime import date
from typing import Any

from dagster_pipes import (
    DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT,
    DAGSTER_PIPES_MESSAGES_CLI_ARGUMENT,
    PipesCliArgsParamsLoader,
    PipesContext,
    PipesEnvVarParamsLoader,
    PipesS3ContextLoader,
    PipesS3MessageWriter,
    open_dagster_pipes,
)

from authpulse_dagster.settings import Settings
from authpulse_dagster.steps.context import StepContext, StepResult, days_between
from authpulse_dagster.steps.registry import STEPS, run_step


def pipes_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """Step metadata in Pipes' typed form (the same shapes the in-process runner gives Dagster)."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if key == "rows":
            out["dagster/row_count"] = {"raw_value": int(value), "type": "int"}
        elif isinstance(value, (dict, list)):
            out[key] = {"raw_value": value, "type": "json"}
        elif key == "location":
            out[key] = {"raw_value": str(value), "type": "path"}
        elif key == "seconds":
            out[key] = {"raw_value": float(value), "type": "float"}
        else:
            out[key] = value
    return out


def report(pipes: PipesContext, result: StepResult) -> None:
    where = f"{socket.gethostname()} pid {os.getpid()}"
    for asset, meta in result.metadata.items():
        pipes.report_asset_materialization(asset_key=asset, metadata=pipes_metadata({**meta, "step_process": where}))
    for c in result.checks:
        pipes.report_asset_check(
            check_name=c.name, passed=c.passed, severity=c.severity, asset_key=c.asset, metadata=pipes_metadata(c.metadata)
        )


def open_pipes(settings: Settings) -> PipesContext:
    """Open Dagster Pipes the way this process was launched (see the module doc)."""
    cli = DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT in sys.argv
    params = PipesCliArgsParamsLoader() if cli else PipesEnvVarParamsLoader()
    if not params.is_dagster_pipes_process():
        return open_dagster_pipes(params_loader=params)  # not launched by Dagster: a no-op context
    on_s3 = ("bucket" in params.load_context_params(), "bucket" in params.load_messages_params())
    s3 = None
    if any(on_s3):
        from authpulse_dagster.aws import aws_client

        s3 = aws_client("s3", settings)
    return open_dagster_pipes(
        params_loader=params,
        context_loader=PipesS3ContextLoader(s3) if on_s3[0] else None,
        message_writer=PipesS3MessageWriter(s3) if on_s3[1] else None,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m authpulse_dagster.steps", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--start", required=True, type=date.fromisoformat, help="first day (YYYY-MM-DD)")
    parser.add_argument("--end", required=True, type=date.fromisoformat, help="last day, inclusive")
    parser.add_argument("--run-id", default="manual", help="recorded in every snapshot summary")
    # Dagster Pipes bootstrap parameters (read by dagster-pipes itself, see open_pipes).
    parser.add_argument(DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT, help=argparse.SUPPRESS)
    parser.add_argument(DAGSTER_PIPES_MESSAGES_CLI_ARGUMENT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    ctx = StepContext(Settings.from_env(), days_between(args.start, args.end), args.run_id)
    # Outside a Pipes launch the context is a no-op and the JSON below is the report.
    with open_pipes(ctx.settings) as pipes:
        result = run_step(args.step, ctx)
        report(pipes, result)
    print(json.dumps({"metadata": result.metadata, "checks": [c.__dict__ for c in result.checks]}, default=str))


if __name__ == "__main__":
    main()
