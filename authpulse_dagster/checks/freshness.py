"""Freshness checks on the gold tables: yesterday's partition must exist by ``AUTHPULSE_FRESHNESS_HOUR`` UTC.

Why ``build_time_partition_freshness_checks`` and not ``FreshnessPolicy``:
Dagster 1.13 marks the check factories *superseded* by ``FreshnessPolicy``
(not deprecated: they stay supported), but a ``FreshnessPolicy`` judges an
asset by its newest materialization of *any* partition (dagster discussion
#34023), so backfilling an old day would make a gold table look fresh while
yesterday is missing. The time-partition check asks exactly what the daily
reconciliation promises: is the most recent complete day materialized once
the deadline has passed. The checks are asset checks (the asset's "Checks"
tab in the UI), evaluated by the sensor the factory builds, with WARN
severity: stale gold is worth a look, not a reason to block anything. The
supersession notice is silenced for these two calls only.

The gold assets are found by group when the definitions load, so gold assets
added later get a check too.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import dagster as dg

from authpulse_dagster.sensors.config import OpsConfig

SENSOR_NAME = "gold_freshness_sensor"


@dataclass(frozen=True)
class FreshnessChecks:
    checks: list[dg.AssetChecksDefinition]
    sensor: dg.SensorDefinition | None
    assets: list[dg.AssetKey]


def gold_daily_keys(assets: Sequence[object]) -> list[dg.AssetKey]:
    """Keys of the time-partitioned assets in group ``gold`` among ``assets``."""
    keys: list[dg.AssetKey] = []
    for item in assets:
        if not isinstance(item, dg.AssetsDefinition):
            continue
        for key in item.keys:
            if item.group_names_by_key.get(key) == "gold" and isinstance(
                item.partitions_def, dg.TimeWindowPartitionsDefinition
            ):
                keys.append(key)
    return sorted(keys)


def build_freshness_checks(assets: Sequence[object], ops: OpsConfig) -> FreshnessChecks:
    keys = gold_daily_keys(assets)
    if not keys:
        return FreshnessChecks([], None, [])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.SupersessionWarning)
        checks = list(
            dg.build_time_partition_freshness_checks(
                assets=keys,
                deadline_cron=f"0 {ops.freshness_hour} * * *",
                timezone="UTC",
                severity=dg.AssetCheckSeverity.WARN,
            )
        )
        sensor = dg.build_sensor_for_freshness_checks(
            freshness_checks=checks,
            name=SENSOR_NAME,
            minimum_interval_seconds=max(ops.sensor_interval_seconds, 60),
            default_status=dg.DefaultSensorStatus.RUNNING if ops.sensors_on else dg.DefaultSensorStatus.STOPPED,
        )
    return FreshnessChecks(checks, sensor, keys)
