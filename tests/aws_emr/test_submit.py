"""The spark-submit command of an EMR step: entry point, archive, environment, limits."""

from __future__ import annotations

import pytest

from authpulse_dagster.aws_emr.pipes_clients import step_failure_message
from authpulse_dagster.aws_emr.submit import MAX_STEP_ARGS_CHARS, cluster_environment, spark_submit_args
from authpulse_dagster.errors import ConfigError
from authpulse_dagster.settings import Settings
from tests.test_settings_aws import VALID


def test_args_run_the_module_through_the_launcher_with_the_archive() -> None:
    settings = Settings.from_env(VALID)
    environ = {**VALID, "AUTHPULSE_HOME": "/home/me/.authpulse", "AUTHPULSE_LOOKBACK_DAYS": "14", "AWS_SECRET_ACCESS_KEY": "x"}
    args = spark_submit_args(settings, "authpulse_dagster.steps", ["silver", "--start", "2024-01-02"], app_name="authpulse-silver", environ=environ)
    assert args[:7] == ["spark-submit", "--master", "yarn", "--deploy-mode", "cluster", "--name", "authpulse-silver"]
    confs = {args[i + 1] for i, a in enumerate(args) if a == "--conf"}
    assert "spark.archives=s3://ap-artifacts/emr/authpulse-emr.tar.gz#environment" in confs
    assert args[args.index("--jars") + 1] == "s3://ap-artifacts/emr/authpulse-streaming.jar"  # the dedup operator
    assert "spark.pyspark.python=python3.11" in confs
    assert "spark.yarn.appMasterEnv.PYTHONPATH=./environment" in confs
    assert "spark.executorEnv.PYTHONPATH=./environment" in confs
    assert "spark.yarn.appMasterEnv.AUTHPULSE_LOOKBACK_DAYS=14" in confs and "spark.executorEnv.AUTHPULSE_LOOKBACK_DAYS=14" in confs
    assert "spark.yarn.appMasterEnv.AWS_REGION=eu-west-1" in confs
    assert not any("AUTHPULSE_HOME" in c or "SECRET" in c for c in confs)
    assert args[-5:] == ["s3://ap-artifacts/emr/authpulse_emr_main.py", "authpulse_dagster.steps", "silver", "--start", "2024-01-02"]


def test_cluster_environment_selects_the_clusters_spark() -> None:
    env = cluster_environment(Settings.from_env(VALID), {**VALID, "AUTHPULSE_SPARK_MASTER": "local[2]", "AUTHPULSE_SPARK_SHUFFLE_PARTITIONS": "64"})
    assert env["AUTHPULSE_SPARK_MASTER"] == "yarn" and env["AUTHPULSE_SPARK_UI"] == "true"
    assert env["AUTHPULSE_SPARK_SHUFFLE_PARTITIONS"] == "64"
    assert cluster_environment(Settings.from_env(VALID), VALID)["AUTHPULSE_SPARK_SHUFFLE_PARTITIONS"] == "200"


def test_args_over_emrs_limit_are_refused() -> None:
    environ = {**VALID, "AUTHPULSE_PADDING": "x" * MAX_STEP_ARGS_CHARS}
    with pytest.raises(ConfigError, match="over EMR's 10240"):
        spark_submit_args(Settings.from_env(VALID), "authpulse_dagster.steps", ["bronze"], app_name="a", environ=environ)


def test_step_failure_message_uses_emrs_failure_details() -> None:
    step = {
        "Id": "s-1", "Name": "authpulse silver",
        "Status": {"State": "FAILED", "StateChangeReason": {},
                   "FailureDetails": {"Reason": "Unknown Error.", "Message": "Exception in thread main: ValueError: boom",
                                      "LogFile": "s3://logs/j-1/steps/s-1/stderr.gz"}},
    }
    assert step_failure_message(step, "j-1") == (
        "EMR step s-1 (authpulse silver) on cluster j-1 ended FAILED: Unknown Error.: "
        "Exception in thread main: ValueError: boom (log: s3://logs/j-1/steps/s-1/stderr.gz)"
    )


def test_driver_and_executor_sizes_travel_on_the_submit_command() -> None:
    """In cluster mode the driver's JVM starts before any builder config is read, so ``spark.driver.memory``
    set in code has no effect: the sizes must be spark-submit options, taken from the settings."""
    settings = Settings.from_env({**VALID, "AUTHPULSE_EMR_DRIVER_MEMORY": "6g", "AUTHPULSE_EMR_EXECUTOR_MEMORY": "20480m",
                                  "AUTHPULSE_EMR_EXECUTOR_CORES": "5"})
    args = spark_submit_args(settings, "authpulse_dagster.steps", ["silver"], app_name="authpulse-silver", environ={})
    options = dict(zip(args, args[1:]))
    assert (options["--driver-memory"], options["--executor-memory"], options["--executor-cores"]) == ("6g", "20480m", "5")
    launcher = args.index("s3://ap-artifacts/emr/authpulse_emr_main.py")
    assert args.index("--driver-memory") < launcher  # options of spark-submit, not arguments of the step
    assert not any(a.startswith(("spark.driver.memory=", "spark.executor.memory=")) for a in args)
