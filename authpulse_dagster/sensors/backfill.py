"""One backfill of the silver and gold assets for a set of days, requested from a sensor.

Dagster 1.13's sensor daemon turns a ``RunRequest`` that carries an asset
graph subset into a real backfill (``_daemon/sensor.py``:
``_submit_backfill_request`` → ``PartitionBackfill.from_asset_graph_subset``),
the same object "Materialize → pick partitions" creates in the UI. The
backfill daemon then honours every asset's ``BackfillPolicy.single_run()``:
each contiguous range of days becomes one run, and exactly the requested days
are materialized (a gap between two days is not filled in, which a single run
over ``[first, last]`` would do). The constructor,
``RunRequest.for_asset_graph_subset``, is public API taking a non-public
``AssetGraphSubset``; DOMAIN.md notes that no released public alternative
exists (dagster#27759), so this module is the one place that touches it.

The assets are chosen by group (``silver``, ``gold``) when the request is
built, so gold assets added later are included without editing this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable, Mapping

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.definitions.events import AssetKeyPartitionKey

GROUPS = ("silver", "gold")
SILVER_GOLD = dg.AssetSelection.groups(*GROUPS)
TRIGGER_TAG = "authpulse/trigger"
DAYS_TAG = "authpulse/days"


def silver_gold_keys(asset_graph: BaseAssetGraph) -> list[dg.AssetKey]:
    """The daily-partitioned assets of the silver and gold groups, as the graph holds them now."""
    keys = SILVER_GOLD.resolve(asset_graph)
    return sorted(k for k in keys if asset_graph.get(k).partitions_def is not None)


@dataclass(frozen=True)
class BackfillPlan:
    """What a sensor asks for: the request, and the days it had to leave out (with why)."""

    request: dg.RunRequest | None
    days: list[date]
    skipped: dict[str, str]


def plan_backfill(asset_graph: BaseAssetGraph, days: Iterable[date], tags: Mapping[str, str]) -> BackfillPlan:
    """A single backfill request over exactly ``days`` for the silver and gold assets.

    Days that are not (yet) partitions are skipped and reported: today's
    partition only exists once the day is over, and the daily reconciliation
    schedule covers it then.
    """
    keys = silver_gold_keys(asset_graph)
    wanted = sorted(set(days))
    if not keys or not wanted:
        return BackfillPlan(None, [], {})
    partitions_def = asset_graph.get(keys[0]).partitions_def
    assert partitions_def is not None
    valid = set(partitions_def.get_partition_keys())
    kept = [d for d in wanted if d.isoformat() in valid]
    skipped = {d.isoformat(): "not a partition yet (the day is not over) or before the first partition"
               for d in wanted if d.isoformat() not in valid}
    if not kept:
        return BackfillPlan(None, [], skipped)
    subset = AssetGraphSubset.from_asset_partition_set(
        {AssetKeyPartitionKey(key, d.isoformat()) for key in keys for d in kept}, asset_graph
    )
    all_tags = {**tags, DAYS_TAG: ",".join(d.isoformat() for d in kept)}
    return BackfillPlan(dg.RunRequest.for_asset_graph_subset(subset, tags=all_tags), kept, skipped)


def requested_days(request: dg.RunRequest) -> dict[str, set[str]]:
    """Asset → partition keys a backfill request covers (for tests and logs)."""
    subset = request.asset_graph_subset
    assert subset is not None
    return {
        key.to_user_string(): set(parts.get_partition_keys())
        for key, parts in subset.partitions_subsets_by_asset_key.items()
    }
