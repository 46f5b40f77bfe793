"""The seam between an asset and where its Spark work runs.

An asset names a step (``authpulse_dagster.steps.registry.STEPS``); a step
runner runs it over the run's days and hands back Dagster results
(materializations and check results), so the asset does not care where Spark
ran. The steps themselves know nothing of Dagster.

``LocalStepRunner`` has two modes:

- ``in_process`` (default): the step runs in the Dagster run's own process on
  local Spark. With the in-process executor a whole run, even a single-run
  backfill of many days, starts Spark once.
- ``pipes``: the step runs as ``python -m authpulse_dagster.steps`` in a
  subprocess launched through Dagster Pipes, and reports back over Pipes:
  exactly what the AWS runner (``authpulse_dagster.aws_emr.step_runner.EmrStepRunner``)
  does with an EMR step, so this mode keeps that path honest locally.

Both build the entry point's arguments with :func:`step_command_args`.
"""

from __future__ import annotations

import os
import sys
from typing import Iterator, Literal, Optional, Union

import dagster as dg

from authpulse_dagster.assets.results import check_results, materialize_results
from authpulse_dagster.partitions import context_days
from authpulse_dagster.resources.run_settings import run_settings
from authpulse_dagster.settings import Settings
from authpulse_dagster.steps.context import StepContext

StepOutput = Union[dg.MaterializeResult, dg.AssetCheckResult]

# The step entry point every out-of-process runner launches (steps/__main__.py).
STEP_MODULE = "authpulse_dagster.steps"


def step_command_args(step: str, days, run_id: str) -> list[str]:
    """Arguments of ``python -m authpulse_dagster.steps`` for a step over ``days`` (sorted)."""
    return [step, "--start", days[0].isoformat(), "--end", days[-1].isoformat(), "--run-id", run_id]


class LocalStepRunner(dg.ConfigurableResource):
    """Runs steps on this machine, in process or as a Pipes subprocess."""

    mode: Literal["in_process", "pipes"] = "in_process"
    home: Optional[str] = None  # overrides AUTHPULSE_HOME, e.g. in tests

    def settings(self) -> Settings:
        return run_settings(self.home)

    def run(self, context: dg.AssetExecutionContext, step: str) -> Iterator[StepOutput]:
        days = context_days(context)
        if self.mode == "pipes":
            yield from self._run_pipes(context, step, days)
            return
        from authpulse_dagster.steps.registry import run_step

        result = run_step(step, StepContext(self.settings(), days, context.run.run_id))
        yield from materialize_results(result, list(result.metadata))
        yield from check_results(result)

    def _run_pipes(self, context: dg.AssetExecutionContext, step: str, days) -> Iterator[StepOutput]:
        env = {**os.environ, "AUTHPULSE_HOME": str(self.settings().home), "PYSPARK_PYTHON": sys.executable}
        command = [sys.executable, "-m", STEP_MODULE, *step_command_args(step, days, context.run.run_id)]
        yield from dg.PipesSubprocessClient().run(context=context, command=command, env=env).get_results()
