"""The pyiceberg catalog, for Python-side reads: SQLite + a local warehouse folder locally, Glue + S3 in AWS.

Opening it creates nothing: Spark creates the namespace locally
(``spark.use_catalog``) and the deploy stack creates the Glue database, so a
reader (a sensor, the API) needs read permissions only.
"""

from __future__ import annotations

import os

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog

from authpulse_dagster.settings import LOCAL, Settings

CATALOG_NAME = "authpulse"


def load_catalog(settings: Settings) -> Catalog:
    """Open the catalog for the configured environment (read-only use)."""
    return _local_catalog(settings) if settings.env == LOCAL else glue_catalog(settings)


def _local_catalog(settings: Settings) -> Catalog:
    settings.home.mkdir(parents=True, exist_ok=True)
    # schema_version v1: the iceberg_tables layout Iceberg's Java JdbcCatalog (Spark's side) uses too.
    return SqlCatalog(CATALOG_NAME, uri=settings.catalog_uri, warehouse=settings.warehouse.as_uri(), schema_version="v1")


def glue_catalog(settings: Settings) -> Catalog:
    """pyiceberg's GlueCatalog over the S3 warehouse (database = the ``authpulse`` namespace).

    The Glue client is the project's (``aws_client``: region, retries, endpoint
    from the environment). pyiceberg writes data and metadata files through
    pyarrow's S3 filesystem, which does not read ``AWS_ENDPOINT_URL``, so the
    endpoint boto3 would use (``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``,
    when set) is handed to it explicitly; on AWS neither is set and pyarrow
    uses the regional S3 endpoint and the instance's credentials.
    """
    from pyiceberg.catalog.glue import GlueCatalog

    from authpulse_dagster.aws import aws_client

    aws = settings.require_aws()
    properties = {"warehouse": aws.warehouse_uri, "s3.region": aws.region, "glue.region": aws.region}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        properties["s3.endpoint"] = endpoint
    return GlueCatalog(CATALOG_NAME, client=aws_client("glue", settings), **properties)
