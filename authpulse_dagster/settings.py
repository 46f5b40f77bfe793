"""Every setting AuthPulse reads from the environment, resolved in one place.

Settings are read late (when a command or a resource runs, never at import),
so tests and `dagster dev` can point the same code at different homes. The
environment resolver follows the anchors' rule: anything but ``aws`` is local.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

from authpulse_dagster.errors import ConfigError

LOCAL = "local"
AWS = "aws"

# Day 0 of the dataset. The LANL releases do not disclose real dates; a Monday
# keeps the generator's weekly rhythm aligned with calendar weekdays.
DEFAULT_DATASET_EPOCH = "2024-01-01T00:00:00+00:00"


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer; set it to a whole number or unset it") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def _choice(environ: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (environ.get(name) or default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} must be one of: {', '.join(allowed)}")
    return value


def parse_epoch(raw: str, name: str = "AUTHPULSE_DATASET_EPOCH") -> datetime:
    """Parse an ISO-8601 date or datetime; naive values are taken as UTC."""
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not an ISO-8601 date or time; use e.g. 2024-01-01 or 2024-01-01T00:00:00Z"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Build it with :meth:`from_env`."""

    env: str = LOCAL
    home: Path = field(default_factory=lambda: Path(".authpulse").resolve())
    dataset_epoch: datetime = field(default_factory=lambda: parse_epoch(DEFAULT_DATASET_EPOCH))
    max_line_bytes: int = 1024
    max_dataset_seconds: int = 3 * 365 * 86400
    lookback_days: int = 30
    moto_port: int = 4566
    region: str = "us-east-1"
    stream_name: str = "authpulse-events"
    stream_shards: int = 2
    alert_topic: str = "authpulse-alerts"
    alert_queue: str = "authpulse-alerts-local"
    metrics_namespace: str = "AuthPulse"
    step_mode: str = "in_process"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        e = os.environ if environ is None else environ
        env = (e.get("AUTHPULSE_ENV") or LOCAL).strip().lower()
        if env not in (LOCAL, AWS):
            # Anything unrecognised falls back to local: a typo must never reach for the cloud.
            env = LOCAL
        return cls(
            env=env,
            home=Path(e.get("AUTHPULSE_HOME") or ".authpulse").expanduser().resolve(),
            dataset_epoch=parse_epoch(e.get("AUTHPULSE_DATASET_EPOCH") or DEFAULT_DATASET_EPOCH),
            max_line_bytes=_int(e, "AUTHPULSE_MAX_LINE_BYTES", 1024, minimum=16),
            max_dataset_seconds=_int(e, "AUTHPULSE_MAX_DATASET_SECONDS", 3 * 365 * 86400, minimum=1),
            lookback_days=_int(e, "AUTHPULSE_LOOKBACK_DAYS", 30, minimum=1),
            moto_port=_int(e, "AUTHPULSE_MOTO_PORT", 4566, minimum=1),
            region=e.get("AWS_REGION") or e.get("AWS_DEFAULT_REGION") or "us-east-1",
            stream_name=e.get("AUTHPULSE_STREAM") or "authpulse-events",
            stream_shards=_int(e, "AUTHPULSE_STREAM_SHARDS", 2, minimum=1),
            alert_topic=e.get("AUTHPULSE_ALERT_TOPIC") or "authpulse-alerts",
            alert_queue=e.get("AUTHPULSE_ALERT_QUEUE") or "authpulse-alerts-local",
            metrics_namespace=e.get("AUTHPULSE_METRICS_NAMESPACE") or "AuthPulse",
            step_mode=_choice(e, "AUTHPULSE_STEP_MODE", ("in_process", "pipes"), "in_process"),
        )

    # Everything below lives under the data home.
    @property
    def catalog_uri(self) -> str:
        return f"sqlite:///{self.home / 'catalog.db'}"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def landing_dir(self) -> Path:
        """Where file sources are dropped: ``landing/<format>/<file>``."""
        return self.home / "landing"
