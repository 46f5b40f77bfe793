"""The command line's settings: read once per invocation, at the entry point, and handed to the work.

Commands ask for them when they start (not at import, not in ``--help``),
so a bad value is one ``authpulse: error:`` line from the command that needs it.
"""

from __future__ import annotations

import click

from authpulse_dagster.settings import Settings


def _cache() -> dict:
    root = click.get_current_context().find_root()
    if root.obj is None:
        root.obj = {}
    return root.obj


def settings() -> Settings:
    cache = _cache()
    if "settings" not in cache:
        cache["settings"] = Settings.from_env()
    return cache["settings"]


def api_settings():
    """The SOC API's own settings (``api/config.py``), read the same way."""
    from authpulse_dagster.api.config import ApiSettings

    cache = _cache()
    if "api" not in cache:
        cache["api"] = ApiSettings.from_env()
    return cache["api"]
