"""The pyiceberg catalog: SQLite + a local warehouse folder locally, Glue + S3 in AWS."""

from __future__ import annotations

import os

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError

from authpulse_dagster.lakehouse.schemas import NAMESPACE
from authpulse_dagster.settings import LOCAL, Settings

CATALOG_NAME = "authpulse"


def load_catalog(settings: Settings) -> Catalog:
    """Open the catalog for the configured environment and make sure the namespace exists."""
    catalog = _local_catalog(settings) if settings.env == LOCAL else glue_catalog(settings)
    try:
        catalog.create_namespace(NAMESPACE)
    except NamespaceAlreadyExistsError:
        pass
    return catalog


def _local_catalog(settings: Settings) -> Catalog:
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.warehouse.mkdir(parents=True, exist_ok=True)
    return SqlCatalog(CATALOG_NAME, uri=settings.catalog_uri, warehouse=settings.warehouse.as_uri())


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
