"""Turning a step's plain-dict output into Dagster results."""

from __future__ import annotations

from typing import Any, Iterator

import dagster as dg

from authpulse_dagster.steps.context import StepResult


def _value(key: str, value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return dg.MetadataValue.json(value)
    if key == "location":
        return dg.MetadataValue.path(str(value))
    if key == "seconds":
        return dg.MetadataValue.float(float(value))
    return value


def metadata_for(result: StepResult, asset: str) -> dict[str, Any]:
    meta = {k: _value(k, v) for k, v in result.metadata.get(asset, {}).items() if k != "rows"}
    if "rows" in result.metadata.get(asset, {}):
        meta["dagster/row_count"] = int(result.metadata[asset]["rows"])
    return meta


def materialize_results(result: StepResult, assets: list[str]) -> Iterator[dg.MaterializeResult]:
    for asset in assets:
        yield dg.MaterializeResult(asset_key=asset, metadata=metadata_for(result, asset))


def check_results(result: StepResult) -> Iterator[dg.AssetCheckResult]:
    for c in result.checks:
        yield dg.AssetCheckResult(
            asset_key=c.asset,
            check_name=c.name,
            passed=c.passed,
            severity=dg.AssetCheckSeverity.WARN if c.severity == "WARN" else dg.AssetCheckSeverity.ERROR,
            description=c.description,
            metadata={k: _value(k, v) for k, v in c.metadata.items()},
        )
