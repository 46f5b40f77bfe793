"""The shape every rule has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pyspark.sql import DataFrame

from authpulse_dagster.risk.inputs import RiskInputs


@dataclass(frozen=True)
class Rule:
    """A named detector: ``detect(inputs)`` returns the ``event_id`` of every event it flags.

    ``name`` is the reason code stored with scores and alerts and the key of
    the rule's weight in :class:`~authpulse_dagster.risk.config.RiskConfig`.
    """

    name: str
    summary: str
    detect: Callable[[RiskInputs], DataFrame]
