"""The settings a Dagster run works with, read where the run starts.

A run worker (or ``authpulse stream`` using the streaming resource from the
shell) is a process of its own: its resources and ops read the environment
here, once per call at the start of their work, and pass the settings down;
nothing below them reads it. ``home`` is a resource's override of
``AUTHPULSE_HOME`` (tests, a second data home).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from authpulse_dagster.settings import Settings


def run_settings(home: str | None = None) -> Settings:
    settings = Settings.from_env()
    return replace(settings, home=Path(home).resolve()) if home else settings
