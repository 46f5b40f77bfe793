"""The API in AWS Lambda behind API Gateway (HTTP API, payload 2.0), through Mangum.

Built once per execution environment (cold start) and reused by its
invocations, so the alerts cache and the rate-limit buckets live as long as
the instance. The settings come from the function's environment (the CDK
stack sets them: ``AUTHPULSE_ENV=aws``, the warehouse, Athena, the table).
"""

from __future__ import annotations

import logging
from typing import Any

from mangum import Mangum

_handler: Mangum | None = None


def _build() -> Mangum:
    from authpulse_dagster.api.app import create_app
    from authpulse_dagster.api.config import ApiSettings
    from authpulse_dagster.api.store import open_store
    from authpulse_dagster.settings import Settings

    logging.getLogger().setLevel(logging.INFO)
    settings = Settings.from_env()
    api = ApiSettings.from_env()
    return Mangum(create_app(settings, api, open_store(settings)), lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler
    if _handler is None:
        _handler = _build()
    return _handler(event, context)
