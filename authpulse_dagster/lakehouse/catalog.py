"""The pyiceberg catalog: SQLite + a local warehouse folder locally, Glue + S3 in AWS."""

from __future__ import annotations

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lakehouse.schemas import NAMESPACE
from authpulse_dagster.settings import LOCAL, Settings

CATALOG_NAME = "authpulse"


def load_catalog(settings: Settings) -> Catalog:
    """Open the catalog for the configured environment and make sure the namespace exists."""
    if settings.env != LOCAL:
        raise ConfigError("AUTHPULSE_ENV=aws is not built yet (see README, 'Not built yet'); unset it to run locally")
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.warehouse.mkdir(parents=True, exist_ok=True)
    catalog = SqlCatalog(CATALOG_NAME, uri=settings.catalog_uri, warehouse=settings.warehouse.as_uri())
    try:
        catalog.create_namespace(NAMESPACE)
    except NamespaceAlreadyExistsError:
        pass
    return catalog
