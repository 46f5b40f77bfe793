"""The streaming resource for the environment: one factory over the two siblings.

Kept apart from both implementations so neither imports the other
(``resources/streaming.py`` is the local process, ``aws_emr/streaming.py``
the long-running EMR step built on it).
"""

from __future__ import annotations

from typing import Any

from authpulse_dagster.resources.streaming import StreamingJobResource
from authpulse_dagster.settings import Settings


def streaming_resource(settings: Settings, **config: Any) -> StreamingJobResource:
    """The streaming resource for the environment: a local process, or a long-running EMR step."""
    if settings.env == "aws":
        from authpulse_dagster.aws_emr.streaming import EmrStreamingJobResource

        return EmrStreamingJobResource(**config)
    return StreamingJobResource(**config)
