"""The API's settings, read from the environment when the app or a command starts.

Secure by default: the server binds 127.0.0.1, CORS is off (no origin is
allowed unless ``AUTHPULSE_API_CORS_ORIGINS`` lists some), bodies are capped
and every key is rate-limited.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from authpulse_dagster import env_vars
from authpulse_dagster.errors import ConfigError
from authpulse_dagster.settings import LOCAL, Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")




@dataclass(frozen=True)
class ApiSettings:
    """Everything the API reads besides the platform's :class:`Settings` (which name its table and
    the triage export: the pipeline and the local stack use those too)."""

    rate_per_second: float = 20.0  # per key, sustained
    burst: int = 40  # per key, the bucket's size
    max_body_bytes: int = 16 * 1024
    cors_origins: tuple[str, ...] = ()  # empty: CORS off
    cache_seconds: float = 2.0  # how stale a list view may be (alerts table and triage states)
    key_cache_seconds: float = 2.0  # a verified key is re-read after this long: a revocation takes effect within it
    query_row_limit: int = 1000  # the most rows a named query returns

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ApiSettings":
        e = os.environ if environ is None else environ
        origins = tuple(o.strip() for o in (e.get("AUTHPULSE_API_CORS_ORIGINS") or "").split(",") if o.strip())
        for origin in origins:
            if origin == "*" or not _ORIGIN.match(origin):
                raise ConfigError(
                    f"AUTHPULSE_API_CORS_ORIGINS has {origin!r}; list exact origins such as https://soc.example.com (no '*')"
                )
        return cls(
            rate_per_second=env_vars.number(e, "AUTHPULSE_API_RATE_LIMIT", 20.0, 0.1, 100_000),
            burst=int(env_vars.number(e, "AUTHPULSE_API_BURST", 40, 1, 1_000_000)),
            max_body_bytes=int(env_vars.number(e, "AUTHPULSE_API_MAX_BODY_BYTES", 16 * 1024, 256, 10 * 1024 * 1024)),
            cors_origins=origins,
            cache_seconds=env_vars.number(e, "AUTHPULSE_API_CACHE_SECONDS", 2.0, 0.0, 3600),
            key_cache_seconds=env_vars.number(e, "AUTHPULSE_API_KEY_CACHE_SECONDS", 2.0, 0.0, 300),
            query_row_limit=int(env_vars.number(e, "AUTHPULSE_API_QUERY_ROW_LIMIT", 1000, 1, 100_000)),
        )


def triage_location(settings: Settings) -> str:
    """Where the triage export lives: ``AUTHPULSE_TRIAGE_URI``, else ``<home>/triage`` locally,
    else ``<warehouse>/_triage`` in AWS (beside, not inside, the Iceberg tables' folders)."""
    if settings.triage_uri:
        return settings.triage_uri
    if settings.env == LOCAL:
        return str(settings.home / "triage")
    return f"{settings.require_aws().warehouse_uri}/_triage"


def is_s3(location: str) -> bool:
    return location.startswith("s3://")


def local_path(location: str, name: str) -> Path:
    return Path(location) / name
