"""LANL authentication data: formats, deterministic event ids, streaming readers
and a synthetic generator.

Kept free of Spark and Dagster so the same code serves the batch bronze
ingest, a replay producer and the CLI.
"""

from authpulse_dagster.lanl.event_id import EventIdAssigner, canonical_line, event_id
from authpulse_dagster.lanl.formats import COLUMNS, FIELD_COUNTS, FORMATS, LINE_HARD_CAP, validate_format
from authpulse_dagster.lanl.generator import GenerateStats, generate
from authpulse_dagster.lanl.readers import BATCH_SCHEMA, iter_batches, open_binary

__all__ = [
    "BATCH_SCHEMA",
    "COLUMNS",
    "FIELD_COUNTS",
    "FORMATS",
    "LINE_HARD_CAP",
    "EventIdAssigner",
    "GenerateStats",
    "canonical_line",
    "event_id",
    "generate",
    "iter_batches",
    "open_binary",
    "validate_format",
]
