"""Gold risk assets: route history, per-event scores, daily user scores, alerts.

Same shape as the other gold assets (a step behind each, daily partitions,
single-run backfills). ``alerts`` also delivers new alerts to the SNS topic;
its metadata says how many went out and how many had been sent before.
"""

import dagster as dg

from authpulse_dagster.assets.gold import gold_asset
from authpulse_dagster.lakehouse.schemas import (
    ALERTS,
    AUTH_EVENTS,
    HOST_POPULARITY,
    RISK_SCORES,
    USER_BEHAVIOR,
    USER_HOST_DAILY,
    USER_RISK_DAILY,
    USER_ROUTE_DAILY,
)


def build_risk_assets(partitions_def: dg.PartitionsDefinition) -> list:
    # Like the other gold assets, lookback reads of earlier days are not
    # declared as partition dependencies (see assets/gold.py).
    return [
        gold_asset(USER_ROUTE_DAILY, "user_route_daily", [AUTH_EVENTS.name], partitions_def),
        gold_asset(
            RISK_SCORES,
            "risk_scores",
            [AUTH_EVENTS.name, USER_HOST_DAILY.name, USER_BEHAVIOR.name, HOST_POPULARITY.name, USER_ROUTE_DAILY.name],
            partitions_def,
        ),
        gold_asset(USER_RISK_DAILY, "user_risk_daily", [RISK_SCORES.name], partitions_def),
        gold_asset(ALERTS, "alerts", [USER_RISK_DAILY.name, RISK_SCORES.name], partitions_def),
    ]
