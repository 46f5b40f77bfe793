"""Fixtures for the operations tests: a real Dagster instance in a temporary folder, and CloudWatch helpers."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import dagster as dg
import pytest

from authpulse_dagster.aws import aws_client
from authpulse_dagster.settings import Settings


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    path = tmp_path / "dagster-instance"
    path.mkdir()
    return path


@contextmanager
def open_instance(path: Path) -> Iterator[dg.DagsterInstance]:
    """A persistent instance (SQLite storage) in ``path``; opening it again is what a restarted daemon sees."""
    with dg.instance_for_test(temp_dir=str(path)) as instance:
        yield instance


@pytest.fixture
def instance(instance_dir: Path) -> Iterator[dg.DagsterInstance]:
    with open_instance(instance_dir) as inst:
        yield inst


def put_metric(settings: Settings, name: str, value: float, at: datetime, namespace: str | None = None) -> None:
    """One datapoint for the test's stream, as the streaming job (or Kinesis, for AWS/Kinesis) would send it."""
    aws_client("cloudwatch", settings).put_metric_data(
        Namespace=namespace or settings.metrics_namespace,
        MetricData=[{
            "MetricName": name,
            "Dimensions": [{"Name": "StreamName", "Value": settings.stream_name}],
            "Timestamp": at.astimezone(timezone.utc),
            "Value": float(value),
            "Unit": "Milliseconds",
        }],
    )
