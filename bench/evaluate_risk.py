"""Evaluate the risk engine on generated data with labelled attacks (run on purpose: `make evaluate`).

Generates N users x D days of LANL 2015 (default 1,000 x 14, every attack
scenario at the given intensity), runs every batch step the Dagster assets
run (one range, one Spark application) with a local stack for alert
delivery, then prints `authpulse evaluate`'s table and the seconds per step.

    python bench/evaluate_risk.py [--users 1000] [--days 14] [--seed 11] [--intensity 1.0] [--format lanl2015]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--intensity", type=float, default=1.0)
    ap.add_argument("--format", default="lanl2015", choices=["lanl2014", "lanl2015"])
    ap.add_argument("--keep", type=Path, default=None, help="Keep the data home here instead of a temporary folder.")
    args = ap.parse_args()

    home = args.keep or Path(tempfile.mkdtemp(prefix="authpulse-eval-"))
    os.environ.update({"AUTHPULSE_HOME": str(home), "PYSPARK_PYTHON": sys.executable})
    from authpulse_dagster import local_stack
    from authpulse_dagster.aws import apply_local_environment
    from authpulse_dagster.evaluation.evaluate import evaluate
    from authpulse_dagster.evaluation.report import render_table
    from authpulse_dagster.lanl.generator import generate
    from authpulse_dagster.lanl.scenarios import Difficulty
    from authpulse_dagster.settings import Settings
    from authpulse_dagster.steps.context import StepContext, days_between
    from authpulse_dagster.steps.registry import PIPELINE_STEPS as STEPS, run_step

    settings = Settings.from_env()
    try:
        data = settings.landing_dir / args.format / "auth.txt.gz"
        labels = home / "redteam.txt"
        stats = generate(
            data, users=args.users, computers=2 * args.users, days=args.days, seed=args.seed, progress=False,
            fmt=args.format, attacks=Difficulty(intensity=args.intensity).scenarios("all", args.format), labels=labels,
        )
        print(f"input: {stats.events:,} events ({stats.format}), {args.users} users, {args.days} days, "
              f"{stats.attack_events} attack events against {stats.attacked_users} users (intensity {args.intensity}, seed {args.seed})")
        local_stack.up(settings, port=local_stack.find_free_port())
        apply_local_environment(settings)
        first = settings.dataset_epoch.date()
        ctx = StepContext(settings, days_between(first, first + timedelta(days=args.days - 1)), run_id="evaluate")
        seconds = {}
        for step in STEPS:
            t = time.monotonic()
            run_step(step, ctx)
            seconds[step] = time.monotonic() - t
        print("seconds per step: " + ", ".join(f"{s} {v:.1f}" for s, v in seconds.items()))
        print(f"risk steps: {sum(seconds[s] for s in STEPS[5:]):.1f} s of {sum(seconds.values()):.1f} s\n")
        print(render_table(evaluate(settings, labels)))
    finally:
        local_stack.down(settings)
        if args.keep is None:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
