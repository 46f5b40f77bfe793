"""The spark-submit command an EMR step runs: the same entry points as on a laptop.

Locally a step is ``python -m authpulse_dagster.steps STEP --start D --end D --run-id R``.
On EMR the step is ``command-runner.jar spark-submit ... authpulse_emr_main.py
authpulse_dagster.steps STEP --start D --end D --run-id R``: the launcher
(``aws_emr/launcher.py``) runs that module as ``python -m`` would.

- **Cluster deploy mode.** The driver runs in a YARN container, where
  ``spark.archives`` unpacks ``authpulse-emr.tar.gz`` as ``./environment``
  (the project and its dependencies, ``make emr-package``); ``PYTHONPATH``
  points the driver and the executors' Python workers at it, and the cluster's
  own Python 3.11 runs them (``AUTHPULSE_EMR_PYTHON``). Nothing is installed on
  the nodes, so no bootstrap action is needed. Spark and pyspark come from EMR.
- **Settings travel with the step.** Every ``AUTHPULSE_*`` variable of the
  orchestrating process (bar the local-only ones) and the region are set in
  the driver's and executors' environment, so the step entry point, loading its settings on the
  cluster resolves exactly what the orchestrator validated. Credentials never
  travel: the cluster uses its instance profile.
- ``spark.yarn.submit.waitAppCompletion=true`` keeps the step running until the
  application ends, so the step's state is the application's outcome.
- **Sizes on the command line.** ``--driver-memory``/``--executor-memory``/
  ``--executor-cores`` come from ``AUTHPULSE_EMR_*`` settings: in cluster mode the
  driver's JVM is sized by YARN before any ``SparkSession.builder`` setting is read.
- **The Iceberg catalog.** Every entry of ``iceberg_spark_conf`` (the ``authpulse``
  SparkCatalog on Glue with S3FileIO, the Iceberg SQL extensions) is passed as
  ``--conf``, so the cluster's Spark names the same catalog as a laptop's; the
  Iceberg jars are EMR's own (``iceberg-defaults`` classification on the cluster).
- **Every application carries a YARN tag** (``spark.yarn.tags``), unique per
  submission. Cancelling an EMR step only kills ``spark-submit``; the tag is how
  :func:`kill_application_step` finds the application to end it.
"""

from __future__ import annotations

import os
import uuid
from typing import Mapping, Sequence

from authpulse_dagster.aws_emr.layout import ARCHIVE_ALIAS
from authpulse_dagster.errors import ConfigError
from authpulse_dagster.settings import Settings

# EMR refuses steps whose argument strings add up to more than this (AddJobFlowSteps limit).
MAX_STEP_ARGS_CHARS = 10_240

# Meaningful only on the machine that set them (paths, local Spark, the local AWS emulator).
LOCAL_ONLY = frozenset({
    "AUTHPULSE_HOME", "AUTHPULSE_MOTO_PORT", "AUTHPULSE_STEP_MODE",
    "AUTHPULSE_SPARK_MASTER", "AUTHPULSE_SPARK_DRIVER_MEMORY", "AUTHPULSE_SPARK_UI",
})
# What the entry points need to find the cluster's Spark instead of starting a local one.
CLUSTER_SPARK = {"AUTHPULSE_SPARK_MASTER": "yarn", "AUTHPULSE_SPARK_UI": "true"}
DEFAULT_CLUSTER_SHUFFLE_PARTITIONS = "200"


def cluster_environment(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the step's driver and executors on the cluster."""
    e = os.environ if environ is None else environ
    env = {k: v for k, v in sorted(e.items()) if k.startswith("AUTHPULSE_") and k not in LOCAL_ONLY and v != ""}
    env["AUTHPULSE_ENV"] = "aws"
    env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = settings.region
    env.setdefault("AUTHPULSE_SPARK_SHUFFLE_PARTITIONS", DEFAULT_CLUSTER_SHUFFLE_PARTITIONS)
    env.update(CLUSTER_SPARK)
    env["PYTHONPATH"] = f"./{ARCHIVE_ALIAS}"
    return env


YARN_TAGS_CONF = "spark.yarn.tags"


def new_yarn_tag() -> str:
    """A tag naming one submission (YARN lower-cases tags, so it is lower case already)."""
    return f"authpulse-{uuid.uuid4().hex[:20]}"


def spark_submit_args(
    settings: Settings,
    module: str,
    module_args: Sequence[str],
    *,
    app_name: str,
    environ: Mapping[str, str] | None = None,
    yarn_tag: str | None = None,
    driver_env: Mapping[str, str] | None = None,
) -> list[str]:
    """``spark-submit`` and its arguments, for ``command-runner.jar``.

    ``driver_env`` adds variables to the driver's environment only (the stop
    marker and the driver lease of the streaming step).
    """
    from authpulse_dagster.lakehouse.spark_catalog import iceberg_spark_conf

    emr = settings.require_aws().emr
    args = [
        "spark-submit",
        "--master", "yarn",
        "--deploy-mode", "cluster",
        "--name", app_name,
        "--driver-memory", emr.driver_memory,
        "--executor-memory", emr.executor_memory,
        "--executor-cores", str(emr.executor_cores),
        "--conf", f"spark.archives={emr.archive_uri}#{ARCHIVE_ALIAS}",
        "--jars", emr.jar_uri,
        "--conf", f"spark.pyspark.python={emr.python}",
        "--conf", f"spark.pyspark.driver.python={emr.python}",
        "--conf", "spark.yarn.submit.waitAppCompletion=true",
        "--conf", f"{YARN_TAGS_CONF}={yarn_tag or new_yarn_tag()}",
    ]
    for key, value in iceberg_spark_conf(settings).items():
        args += ["--conf", f"{key}={value}"]
    for key, value in cluster_environment(settings, environ).items():
        args += ["--conf", f"spark.yarn.appMasterEnv.{key}={value}", "--conf", f"spark.executorEnv.{key}={value}"]
    for key, value in (driver_env or {}).items():
        args += ["--conf", f"spark.yarn.appMasterEnv.{key}={value}"]
    args += [emr.launcher_uri, module, *module_args]
    check_step_args(args)
    return args


def submit_conf(args: Sequence[str]) -> dict[str, str]:
    """The ``--conf`` settings of a ``spark-submit`` command (e.g. a step's ``Config.Args``)."""
    conf: dict[str, str] = {}
    for i, arg in enumerate(args[:-1]):
        if arg == "--conf":
            key, _, value = args[i + 1].partition("=")
            conf[key] = value
    return conf


def yarn_tag_of(args: Sequence[str]) -> str | None:
    """The YARN tag a ``spark-submit`` command gave its application, if any."""
    return submit_conf(args).get(YARN_TAGS_CONF) or None


# Ends every YARN application carrying the tag ($1) that is not finished yet. Runs as a
# step of its own because the ResourceManager is reachable only from inside the cluster.
KILL_APPLICATION_SCRIPT = (
    'apps=$(yarn application -list -appStates NEW,NEW_SAVING,SUBMITTED,ACCEPTED,RUNNING -appTags "$1" 2>/dev/null'
    " | awk '$1 ~ /^application_/ {print $1}'); "
    'for app in $apps; do echo "killing $app (tag $1)"; yarn application -kill "$app"; done'
)
KILL_STEP_PREFIX = "authpulse-kill "


def kill_application_step(yarn_tag: str) -> dict:
    """An ``add_job_flow_steps`` entry that runs ``yarn application -kill`` on the tagged application."""
    return step_definition(
        f"{KILL_STEP_PREFIX}{yarn_tag}", ["bash", "-c", KILL_APPLICATION_SCRIPT, "authpulse-kill", yarn_tag], "CONTINUE"
    )


def step_definition(name: str, args: Sequence[str], action_on_failure: str) -> dict:
    """One ``Steps`` entry for ``add_job_flow_steps`` / ``run_job_flow``."""
    return {
        "Name": name[:256],
        "ActionOnFailure": action_on_failure,
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": list(args)},
    }


def check_step_args(args: Sequence[str]) -> None:
    total = sum(len(a) for a in args)
    if total > MAX_STEP_ARGS_CHARS:
        raise ConfigError(
            f"the EMR step's arguments add up to {total} characters, over EMR's {MAX_STEP_ARGS_CHARS}; "
            "unset AUTHPULSE_* variables the cluster does not need"
        )
