"""Operations settings: lag thresholds, the evaluation window, and what the sensors may do.

Kept apart from :mod:`authpulse_dagster.settings` because these only shape
how Dagster watches the platform (sensors, the reconciliation schedule,
freshness checks), not where data lives. Read from the environment when the
code location loads, like every other setting; a bad value stops the load with
one :class:`~authpulse_dagster.errors.ConfigError` line.

=================================  =========  =====================================================
variable                           default    meaning
=================================  =========  =====================================================
``AUTHPULSE_SENSORS``              ``on``*    ``on``/``off``: whether sensors and the schedule start
                                              running by themselves (*``off`` when ``AUTHPULSE_ENV=aws``)
``AUTHPULSE_LAG_WARN_MS``          60000      lag at or above this opens a lag episode (warning)
``AUTHPULSE_LAG_CRITICAL_MS``      300000     lag at or above this makes the episode critical
``AUTHPULSE_LAG_WINDOW_MINUTES``   5          the lag is the maximum over this many minutes
``AUTHPULSE_STREAM_STALL_SECONDS`` 300        no batch for this long while records wait = stalled
``AUTHPULSE_STREAM_RESTART``       ``off``    ``on``: restart a failed or stalled streaming job
``AUTHPULSE_SCHEDULE_HOUR``        1          UTC hour of the daily silver/gold reconciliation
``AUTHPULSE_FRESHNESS_HOUR``       3          UTC hour by which yesterday's gold must exist
``AUTHPULSE_SENSOR_INTERVAL_SECONDS`` 30      minimum seconds between two ticks of a sensor
=================================  =========  =====================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from authpulse_dagster import env_vars
from authpulse_dagster.errors import ConfigError



@dataclass(frozen=True)
class OpsConfig:
    """How the operations sensors judge lag and health, and what they are allowed to do."""

    sensors_on: bool = True
    lag_warn_ms: int = 60_000
    lag_critical_ms: int = 300_000
    lag_window_minutes: int = 5
    stall_seconds: int = 300
    stream_restart: bool = False
    schedule_hour: int = 1
    freshness_hour: int = 3
    sensor_interval_seconds: int = 30

    def __post_init__(self) -> None:
        if self.lag_critical_ms < self.lag_warn_ms:
            raise ConfigError(
                f"AUTHPULSE_LAG_CRITICAL_MS={self.lag_critical_ms} is below AUTHPULSE_LAG_WARN_MS={self.lag_warn_ms}; "
                "the critical threshold must be at least the warning one"
            )
        if self.freshness_hour <= self.schedule_hour:
            # Yesterday's partition is materialized at schedule_hour; a deadline at or before it on the
            # same day would expect a partition the schedule has not produced yet.
            raise ConfigError(
                f"AUTHPULSE_FRESHNESS_HOUR={self.freshness_hour} must be later than "
                f"AUTHPULSE_SCHEDULE_HOUR={self.schedule_hour} (both UTC, same day)"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "OpsConfig":
        e = os.environ if environ is None else environ
        # Sensors act on their own (alerts, restarts, backfills); in AWS that must be a deliberate choice.
        aws = (e.get("AUTHPULSE_ENV") or "").strip().lower() == "aws"
        schedule_hour = env_vars.integer(e, "AUTHPULSE_SCHEDULE_HOUR", 1, 0, 22)
        return cls(
            sensors_on=env_vars.switch(e, "AUTHPULSE_SENSORS", not aws),
            lag_warn_ms=env_vars.integer(e, "AUTHPULSE_LAG_WARN_MS", 60_000, 1),
            lag_critical_ms=env_vars.integer(e, "AUTHPULSE_LAG_CRITICAL_MS", 300_000, 1),
            lag_window_minutes=env_vars.integer(e, "AUTHPULSE_LAG_WINDOW_MINUTES", 5, 1, 24 * 60),
            stall_seconds=env_vars.integer(e, "AUTHPULSE_STREAM_STALL_SECONDS", 300, 10),
            stream_restart=env_vars.switch(e, "AUTHPULSE_STREAM_RESTART", False),
            schedule_hour=schedule_hour,
            freshness_hour=env_vars.integer(e, "AUTHPULSE_FRESHNESS_HOUR", min(schedule_hour + 2, 23), 1, 23),
            sensor_interval_seconds=env_vars.integer(e, "AUTHPULSE_SENSOR_INTERVAL_SECONDS", 30, 5),
        )

    @property
    def lag_window_seconds(self) -> int:
        return self.lag_window_minutes * 60
