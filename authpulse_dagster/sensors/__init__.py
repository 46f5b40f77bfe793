"""Sensors that watch the running platform (see each module for its rules).

* :mod:`.lag` — Kinesis lag from CloudWatch: one alert per episode, recovery, one backfill;
* :mod:`.streaming_health` — the streaming job stopped, failed or stalled (optional restart);
* :mod:`.late_data` — bronze rows for days already built → re-materialize those days;
* :mod:`.run_failure` — every failed run → an alert.

All of them start running by themselves unless ``AUTHPULSE_SENSORS=off``
(:mod:`.config`).
"""

from __future__ import annotations

import dagster as dg

from authpulse_dagster.sensors.config import OpsConfig
from authpulse_dagster.sensors.lag import build_lag_sensor
from authpulse_dagster.sensors.late_data import build_late_data_sensor
from authpulse_dagster.sensors.run_failure import build_run_failure_sensor
from authpulse_dagster.sensors.streaming_health import build_streaming_health_sensor
from authpulse_dagster.settings import Settings


def build_sensors(settings: Settings, ops: OpsConfig | None = None) -> list[dg.SensorDefinition]:
    ops = ops or OpsConfig.from_env()
    return [
        build_lag_sensor(settings, ops),
        build_streaming_health_sensor(settings, ops),
        build_late_data_sensor(settings, ops),
        build_run_failure_sensor(settings, ops),
    ]


__all__ = ["OpsConfig", "build_sensors"]
