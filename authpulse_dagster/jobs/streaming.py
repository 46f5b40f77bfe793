"""Jobs that drive the streaming job and the replay producer from Dagster.

``start_streaming`` / ``stop_streaming`` call the ``streaming`` resource and
record the job's state as an observation on ``auth_events`` (the table it
feeds), so the UI shows when the stream last started, stopped, and how far
behind it was. ``replay_lanl`` runs the replay producer with the file, rate
and limit as run config.
"""


from dataclasses import asdict
from typing import Optional

import dagster as dg

from authpulse_dagster.resources.streaming import StreamingJobResource, StreamStatus


def _observe(context: dg.OpExecutionContext, status: StreamStatus, action: str) -> None:
    context.log_event(
        dg.AssetObservation(
            asset_key="auth_events",
            metadata={
                "streaming_action": action,
                "streaming_state": status.state,
                "streaming_pid": status.pid or 0,
                "last_batch_id": status.last_batch_id if status.last_batch_id is not None else -1,
                "millis_behind_latest": status.millis_behind_latest if status.millis_behind_latest is not None else -1,
                "log": dg.MetadataValue.path(status.log),
            },
        )
    )
    context.log.info(f"streaming job {action}: {asdict(status)}")


@dg.op(description="Start the streaming job (no-op if it runs already).")
def start_streaming_op(context: dg.OpExecutionContext, streaming: StreamingJobResource) -> None:
    _observe(context, streaming.start(), "start")


@dg.op(description="Stop the streaming job after its batch in flight.")
def stop_streaming_op(context: dg.OpExecutionContext, streaming: StreamingJobResource) -> None:
    _observe(context, streaming.stop(), "stop")


@dg.op(description="Record the streaming job's current state.")
def streaming_status_op(context: dg.OpExecutionContext, streaming: StreamingJobResource) -> None:
    _observe(context, streaming.status(), "status")


class ReplayConfig(dg.Config):
    input: str
    format: str = "lanl2014"
    rate: Optional[float] = None
    speedup: Optional[float] = None
    limit: Optional[int] = None
    resume: bool = False


@dg.op(description="Replay a LANL file into Kinesis (authpulse replay).")
def replay_lanl_op(context: dg.OpExecutionContext, config: ReplayConfig) -> None:
    from pathlib import Path

    from authpulse_dagster.local_stack import apply_local_environment
    from authpulse_dagster.live.producer import replay
    from authpulse_dagster.resources.run_settings import run_settings

    settings = run_settings()
    apply_local_environment(settings)
    report = replay(
        Path(config.input), config.format, settings, rate=config.rate, speedup=config.speedup,
        limit=config.limit, resume=config.resume, progress=False,
    )
    context.log.info(f"replay: {asdict(report)}")
    if report.failed:
        raise dg.Failure(f"{report.failed} records could not be sent; they are in {report.failed_file}")


@dg.job(description="Start the long-running streaming job.")
def start_streaming():
    start_streaming_op()


@dg.job(description="Stop the streaming job gracefully.")
def stop_streaming():
    stop_streaming_op()


@dg.job(description="Record the streaming job's state in the UI.")
def streaming_status():
    streaming_status_op()


@dg.job(description="Replay a LANL file into the Kinesis stream at a chosen rate.")
def replay_lanl():
    replay_lanl_op()


STREAMING_JOBS = [start_streaming, stop_streaming, streaming_status, replay_lanl]
