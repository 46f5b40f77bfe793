"""Run a sensor's backfill request the way `dagster dev` does: the sensor daemon's submission, then the backfill daemon.

The submission is what ``dagster._daemon.sensor._submit_backfill_request``
does with a run request that carries an asset graph subset (one
``PartitionBackfill``); the runs are then planned and launched by the real
backfill daemon iteration against an in-process code location loaded from
``authpulse_dagster.definitions`` (what ``workspace.yaml`` names). With a
synchronous run launcher the runs execute in this process, one after the
other, instead of in subprocesses.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.backfill import execute_backfill_iteration

TERMINAL = {BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED_FAILED, BulkActionStatus.FAILED,
            BulkActionStatus.CANCELED}


def run_backfill(instance: dg.DagsterInstance, request: dg.RunRequest, max_iterations: int = 30) -> PartitionBackfill:
    """Submit ``request`` as one backfill and let the backfill daemon run it to the end."""
    assert request.requires_backfill_daemon()
    backfill_id = uuid.uuid4().hex[:8]
    instance.add_backfill(
        PartitionBackfill.from_asset_graph_subset(
            backfill_id=backfill_id, backfill_timestamp=time.time(), tags=request.tags or {},
            dynamic_partitions_store=instance, asset_graph_subset=request.asset_graph_subset,
            title=None, description=None, run_config=request.run_config,
        )
    )
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name="authpulse_dagster.definitions",
                             attribute="defs", working_directory=os.getcwd()),
        location_name="authpulse",
    )
    log = logging.getLogger("backfill-daemon")
    with create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance) as workspace:
        for _ in range(max_iterations):
            errors = [e for e in execute_backfill_iteration(workspace, log) if e is not None]
            assert not errors, errors
            backfill = instance.get_backfill(backfill_id)
            if backfill.status in TERMINAL:
                return backfill
    raise AssertionError(f"backfill {backfill_id} did not finish in {max_iterations} daemon iterations")
