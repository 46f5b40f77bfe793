"""The one place a SparkSession is built.

Locally the session runs ``local[*]`` inside the calling process (a Dagster
run shares one session across its steps). On EMR the same step code gets the
cluster's session, because ``getOrCreate`` returns the one spark-submit made.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from pyspark.sql import SparkSession

from authpulse_dagster.errors import EnvironmentProblem

MIN_JAVA = 17


def check_java() -> None:
    """Fail with one clear line if no Java 17+ is reachable."""
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not os.path.exists(java):
        raise EnvironmentProblem(
            "Java 17+ not found; install it (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    version = _java_major(out)
    if version is not None and version < MIN_JAVA:
        raise EnvironmentProblem(f"Java {version} found at {java}, Spark 4 needs Java {MIN_JAVA}+; install OpenJDK 17 or set JAVA_HOME")


def _java_major(version_output: str) -> int | None:
    import re

    m = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def get_spark(app_name: str = "authpulse") -> SparkSession:
    """Return the process's SparkSession, creating a local one if none is active."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    check_java()
    # Python workers must run the interpreter that has pyspark and this package.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(app_name)
        .master(os.environ.get("AUTHPULSE_SPARK_MASTER", "local[*]"))
        .config("spark.driver.memory", os.environ.get("AUTHPULSE_SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", os.environ.get("AUTHPULSE_SPARK_SHUFFLE_PARTITIONS", "8"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", os.environ.get("AUTHPULSE_SPARK_UI", "false"))
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", "-Dlog4j2.level=WARN")
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
