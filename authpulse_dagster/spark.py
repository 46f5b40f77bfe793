"""The one place a SparkSession is built.

Locally the session runs ``local[*]`` inside the calling process (a Dagster
run shares one session across its steps), with Iceberg's Spark runtime and
the SQLite JDBC driver from the jars folder ``make jars`` fills. On EMR the
same step code gets the cluster's session, because ``getOrCreate`` returns the
one spark-submit made, and EMR brings Iceberg itself.

The ``authpulse`` Iceberg catalog is configured from the settings the caller
passes (``lakehouse/spark_catalog.py``). A process normally has one data
home; tests switch homes, and :func:`use_catalog` points the catalog at the
new one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from authpulse_dagster.errors import EnvironmentProblem
from authpulse_dagster.lakehouse.spark_catalog import EXTENSIONS, SPARK_CATALOG, iceberg_spark_conf
from authpulse_dagster.lakehouse.schemas import NAMESPACE
from authpulse_dagster.settings import LOCAL, Settings, SparkSettings

MIN_JAVA = 17
LOG_LEVEL = "-Dlog4j2.level=WARN"
# Filled by `make jars` from jvm/pom.xml (git-ignored, cached between runs).
DEFAULT_JARS_DIR = Path(__file__).resolve().parent.parent / ".jars"
# The stream's dedup operator (jvm/src) is compiled by `make jars` too.
REQUIRED_JARS = ("iceberg-spark-runtime-4.1_2.13-", "sqlite-jdbc-", "authpulse-streaming")


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
    m = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def local_jars(jars_dir: Path | None = None) -> list[str]:
    """The jars local Spark loads, or one clear line saying how to fetch them."""
    folder = Path(jars_dir or DEFAULT_JARS_DIR)
    jars = sorted(str(p) for p in folder.glob("*.jar")) if folder.is_dir() else []
    missing = [prefix for prefix in REQUIRED_JARS if not any(Path(j).name.startswith(prefix) for j in jars)]
    if missing:
        raise EnvironmentProblem(
            f"the Spark jars are not in {folder} (missing {', '.join(p.rstrip('-') for p in missing)}); "
            "run 'make jars' (needs Maven and a JDK: apt-get install maven openjdk-17-jdk-headless)"
        )
    return jars


def get_spark(settings: Settings, app_name: str = "authpulse") -> SparkSession:
    """The process's SparkSession with the ``authpulse`` catalog pointing at ``settings``' lakehouse."""
    active = SparkSession.getActiveSession()
    spark = active if active is not None else _build(settings.spark, app_name)
    use_catalog(spark, settings)
    return spark


def _build(conf: SparkSettings, app_name: str) -> SparkSession:
    builder = SparkSession.builder.appName(app_name)
    if conf.local:
        check_java()
        # Python workers must run the interpreter that has pyspark and this package.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        builder = (
            builder.master(conf.master)
            .config("spark.jars", ",".join(local_jars(conf.jars_dir)))
            .config("spark.driver.memory", conf.driver_memory)
            .config("spark.ui.enabled", str(conf.ui).lower())
            # The local metastore is Iceberg's catalog; Spark's own Derby/Hive one is never used.
            .config("spark.sql.catalogImplementation", "in-memory")
            # The throughput collector: G1's concurrent threads compete with the tasks for a laptop's few
            # cores (the whole pipeline on 2 cores: 110 s against 136 s, median of 3 fresh runs each).
            .config("spark.driver.extraJavaOptions", f"-XX:+UseParallelGC {LOG_LEVEL}")
        )
    builder = (
        builder.config("spark.sql.extensions", EXTENSIONS)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(conf.shuffle_partitions))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if not conf.local:
        builder = builder.config("spark.driver.extraJavaOptions", LOG_LEVEL)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def use_catalog(spark: SparkSession, settings: Settings) -> None:
    """Point the session's ``authpulse`` catalog at ``settings``' lakehouse (a no-op when it already does)."""
    conf = iceberg_spark_conf(settings)
    prefix = f"spark.sql.catalog.{SPARK_CATALOG}"
    wanted = {k: v for k, v in conf.items() if k.startswith(prefix) or k == "spark.sql.sources.partitionOverwriteMode"}
    current = {k: v for k, v in spark.conf.getAll.items() if k == prefix or k.startswith(prefix + ".")}
    if all(current.get(k) == v for k, v in wanted.items()) and current.keys() <= wanted.keys():
        return
    for key in current.keys() - wanted.keys():
        spark.conf.unset(key)  # a setting of the previous environment (e.g. the JDBC uri) must not linger
    for key, value in wanted.items():
        spark.conf.set(key, value)
    if current:
        # The catalog was loaded for another home: drop Spark's loaded catalogs so the next use
        # reads the new configuration (CatalogManager.reset, public in the JVM).
        spark._jsparkSession.sessionState().catalogManager().reset()
    if settings.env == LOCAL:
        # In AWS the stack creates the Glue database; the job's role may not (glue:CreateDatabase).
        settings.warehouse.mkdir(parents=True, exist_ok=True)
        spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {SPARK_CATALOG}.{NAMESPACE}")
