"""Run one step as its own program: ``python -m authpulse_dagster.steps STEP --start D --end D``.

This is the entry point a remote runner submits (spark-submit on EMR, a
subprocess locally). Launched through Dagster Pipes, it reports each asset's
materialization and the check outcomes back to the orchestrating run; launched
by hand, it prints the result as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from datetime import date
from typing import Any

from dagster_pipes import PipesContext, open_dagster_pipes

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m authpulse_dagster.steps", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--start", required=True, type=date.fromisoformat, help="first day (YYYY-MM-DD)")
    parser.add_argument("--end", required=True, type=date.fromisoformat, help="last day, inclusive")
    parser.add_argument("--run-id", default="manual", help="recorded in every snapshot summary")
    args = parser.parse_args(argv)

    ctx = StepContext(Settings.from_env(), days_between(args.start, args.end), args.run_id)
    # Outside a Pipes launch the context is a no-op and the JSON below is the report.
    with open_dagster_pipes() as pipes:
        result = run_step(args.step, ctx)
        report(pipes, result)
    print(json.dumps({"metadata": result.metadata, "checks": [c.__dict__ for c in result.checks]}, default=str))


if __name__ == "__main__":
    main()
