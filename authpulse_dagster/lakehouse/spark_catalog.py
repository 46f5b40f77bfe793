"""The Spark side of the lakehouse: Iceberg's own Spark runtime and the ``authpulse`` catalog.

Spark writes and reads every table through one Iceberg ``SparkCatalog`` named
after the project. Locally it is Iceberg's ``JdbcCatalog`` on the same SQLite
file that pyiceberg's ``SqlCatalog`` reads (both keep their pointers in the
``iceberg_tables`` table); in AWS it is the Glue Data Catalog with S3FileIO,
using the Iceberg that EMR ships (nothing is shipped to the cluster for it).

These settings are the only description of the catalog: the local session
builder (``authpulse_dagster.spark``) and the EMR ``spark-submit`` command
(``aws_emr/submit.py``) both take them from :func:`iceberg_spark_conf`.
"""

from __future__ import annotations

import os
from typing import Mapping

from authpulse_dagster.lakehouse.schemas import NAMESPACE
from authpulse_dagster.settings import LOCAL, Settings

SPARK_CATALOG = "authpulse"
EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"


def iceberg_spark_conf(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Spark configuration for the ``authpulse`` Iceberg catalog in this environment.

    In AWS mode an endpoint override in the environment (``AWS_ENDPOINT_URL``
    or the per-service ``AWS_ENDPOINT_URL_GLUE`` / ``_S3``, which boto3 honours
    too) is handed to Iceberg's AWS clients, which do not read those
    variables: that is how the tests point the Glue catalog at a moto server.
    On AWS none is set.
    """
    e = os.environ if environ is None else environ
    prefix = f"spark.sql.catalog.{SPARK_CATALOG}"
    conf = {
        "spark.sql.extensions": EXTENSIONS,
        prefix: "org.apache.iceberg.spark.SparkCatalog",
        # Several processes commit (a Dagster run, the stream job): never plan on a cached, stale snapshot.
        f"{prefix}.cache-enabled": "false",
        # Day partitions are replaced by overwritePartitions(); the writer needs no global sort.
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
    }
    if settings.env == LOCAL:
        conf |= {
            f"{prefix}.catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
            f"{prefix}.uri": f"jdbc:sqlite:{settings.home / 'catalog.db'}",
            f"{prefix}.warehouse": settings.warehouse.as_uri(),
            # The V1 layout of iceberg_tables (with iceberg_type, for views) is the one both Java's
            # JdbcCatalog and pyiceberg's SqlCatalog (schema_version v1) read and write.
            f"{prefix}.jdbc.schema-version": "V1",
            # SQLite allows one writer; Spark's pool must not hold several connections at once.
            f"{prefix}.clients": "1",
            # ...and waits for a lock another process holds instead of failing at once.
            f"{prefix}.jdbc.busy_timeout": "30000",
        }
    else:
        aws = settings.require_aws()
        conf |= {
            f"{prefix}.catalog-impl": "org.apache.iceberg.aws.glue.GlueCatalog",
            f"{prefix}.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
            f"{prefix}.warehouse": aws.warehouse_uri,
            f"{prefix}.client.region": aws.region,
        }
        glue = e.get("AWS_ENDPOINT_URL_GLUE") or e.get("AWS_ENDPOINT_URL")
        s3 = e.get("AWS_ENDPOINT_URL_S3") or e.get("AWS_ENDPOINT_URL")
        if glue:
            conf[f"{prefix}.glue.endpoint"] = glue
        if s3:
            conf |= {f"{prefix}.s3.endpoint": s3, f"{prefix}.s3.path-style-access": "true"}
    return conf


def table_name(name: str) -> str:
    """The fully qualified Spark name of an AuthPulse table, e.g. ``authpulse.authpulse.auth_events``."""
    return f"{SPARK_CATALOG}.{NAMESPACE}.{name}"
