"""Dagster Pipes clients that run AuthPulse steps on EMR.

- :class:`PipesEMRStepClient` adds a step to an **existing, long-running
  cluster** (``add_job_flow_steps``), waits for it and reads the step's Pipes
  messages from S3. dagster-aws 0.29 has no client for this: its
  ``PipesEMRClient`` always starts a cluster (``run_job_flow``). This one is
  built from the same dagster-aws parts: ``open_pipes_session``,
  ``PipesS3ContextInjector`` and ``PipesS3MessageReader``; the Pipes bootstrap
  parameters reach the step as ``--dagster-pipes-context/--dagster-pipes-messages``
  arguments (read on the cluster by dagster-pipes' ``PipesCliArgsParamsLoader``),
  because a step, unlike a cluster, has no environment of its own.
- :class:`TransientPipesEMRClient` is dagster-aws's ``PipesEMRClient`` (one
  cluster per invocation, Pipes parameters injected as environment variables
  through the cluster's configurations) with its wait replaced: 0.29.27 waits
  with boto3's ``cluster_terminated`` waiter (30 s x 60 polls, so a step
  longer than 30 minutes fails) and then compares the final state string
  against enum members, so a cluster that ended ``TERMINATED_WITH_ERRORS`` is
  never reported as failed. Here the cluster and its steps are polled until
  the cluster ends, and a failed step fails the materialization with the
  step's own error.

Either way a step that does not end ``COMPLETED`` raises :class:`dagster.Failure`
naming the step, its state and EMR's failure details (reason, message, log file).

**Ending the work when Dagster stops waiting.** In YARN cluster mode
``CancelSteps`` kills ``spark-submit`` only: the application (the driver and
its executors) keeps running and committing after Dagster has marked the run
cancelled. So when the wait ends for any reason but the step's end (the run is
interrupted, or the waiter itself fails: throttling, expired credentials, a
network error), :func:`end_step` cancels the step *and* adds a step that runs
``yarn application -kill`` on the application's YARN tag
(``aws_emr.submit.kill_application_step``). A transient cluster is terminated
instead, which ends everything on it.
"""

from __future__ import annotations

import copy
import random
import string
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping, Optional

import dagster as dg
from dagster._core.definitions.resource_annotation import TreatAsResourceParam
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.pipes.client import PipesClientCompletedInvocation, PipesContextInjector, PipesMessageReader
from dagster._core.pipes.utils import open_pipes_session
from dagster_aws.pipes import PipesEMRClient, PipesS3MessageReader

from authpulse_dagster.aws_emr.submit import check_step_args, kill_application_step, yarn_tag_of

# Everything Pipes exchanges lives under one prefix of the Pipes bucket, which the
# stack's lifecycle rule expires and whose permissions it scopes (infra/storage.py).
PIPES_PREFIX = "pipes/"
PIPES_CONTEXT_PREFIX = f"{PIPES_PREFIX}context/"
PIPES_MESSAGES_PREFIX = f"{PIPES_PREFIX}messages/"

ACTIVE_STEP_STATES = ("PENDING", "RUNNING", "CANCEL_PENDING")
ENDED_STEP_STATES = ("COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED")
ENDED_CLUSTER_STATES = ("TERMINATED", "TERMINATED_WITH_ERRORS")

Context = dg.AssetExecutionContext | dg.OpExecutionContext


def step_failure_message(step: Mapping[str, Any], cluster_id: str) -> str:
    """One line: which step, how it ended, and EMR's account of why."""
    status = step.get("Status", {})
    details = status.get("FailureDetails") or {}
    reason = (status.get("StateChangeReason") or {}).get("Message")
    text = f"EMR step {step.get('Id')} ({step.get('Name', '')}) on cluster {cluster_id} ended {status.get('State')}"
    explained = [p for p in (details.get("Reason"), details.get("Message") or reason) if p]
    if explained:
        text += ": " + ": ".join(explained)
    if details.get("LogFile"):
        text += f" (log: {details['LogFile']})"
    return text


def console_url(region: str, cluster_id: str) -> str:
    return f"https://{region}.console.aws.amazon.com/emr/home?region={region}#/clusterDetails/{cluster_id}"


def wait_for_step(
    client: Any,
    cluster_id: str,
    step_id: str,
    *,
    poll_seconds: float,
    log: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Poll ``describe_step`` until the step has ended; returns the final step description."""
    last = None
    while True:
        step = client.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]
        state = step["Status"]["State"]
        if state != last:
            log(f"[pipes] EMR step {step_id} on {cluster_id}: {state}")
            last = state
        if state in ENDED_STEP_STATES:
            return step
        sleep(poll_seconds)


class PrefixedS3MessageReader(PipesS3MessageReader):
    """dagster-aws's S3 message reader, with messages under ``key_prefix`` instead of the bucket root."""

    def __init__(self, *, key_prefix: str = PIPES_MESSAGES_PREFIX, **kwargs: Any):
        super().__init__(**kwargs)
        self.key_prefix = key_prefix

    @contextmanager
    def get_params(self) -> Iterator[dict]:
        with super().get_params() as params:
            params["key_prefix"] = self.key_prefix + "".join(random.choices(string.ascii_letters, k=30))
            yield params


def end_step(client: Any, cluster_id: str, step: Mapping[str, Any], step_id: str, log: Callable[[str], None]) -> list[str]:
    """Cancel ``step_id`` and kill its YARN application; returns the ids of the steps added to do so.

    Best effort: each call is tried even when the one before failed (the waiter may have
    failed for the very reason these calls fail), and a failure is logged with what to run by hand.
    """
    added: list[str] = []
    try:
        client.cancel_steps(ClusterId=cluster_id, StepIds=[step_id], StepCancellationOption="SEND_INTERRUPT")
    except Exception as exc:  # noqa: BLE001 - the kill below must still be tried
        log(f"[pipes] could not cancel EMR step {step_id} on {cluster_id}: {exc}")
    tag = yarn_tag_of(step.get("HadoopJarStep", {}).get("Args", []) or step.get("Config", {}).get("Args", []))
    if tag is None:
        log(f"[pipes] EMR step {step_id} carries no YARN tag; its application cannot be found to kill it")
        return added
    try:
        added = client.add_job_flow_steps(JobFlowId=cluster_id, Steps=[kill_application_step(tag)])["StepIds"]
        log(f"[pipes] killing the YARN application tagged {tag} with step {added[0]} on {cluster_id}")
    except Exception as exc:  # noqa: BLE001 - reported, the caller re-raises its own error
        log(
            f"[pipes] could not add the kill step for the YARN application tagged {tag} on {cluster_id}: {exc}; "
            f"on the primary node run: yarn application -list -appTags {tag}, then yarn application -kill <id>"
        )
    return added


class PipesEMRStepClient(dg.PipesClient, TreatAsResourceParam):
    """Run one step on an existing EMR cluster through Dagster Pipes (messages via S3)."""

    def __init__(
        self,
        *,
        client: Any,
        message_reader: PipesMessageReader,
        context_injector: PipesContextInjector,
        poll_seconds: float = 15.0,
        forward_termination: bool = True,
    ):
        self.client = client
        self.message_reader = message_reader
        self.context_injector = context_injector
        self.poll_seconds = poll_seconds
        self.forward_termination = forward_termination

    @classmethod
    def _is_dagster_maintained(cls) -> bool:
        return False

    def run(  # type: ignore[override]
        self,
        *,
        context: Context,
        cluster_id: str,
        step: Mapping[str, Any],
        extras: Optional[Mapping[str, Any]] = None,
    ) -> PipesClientCompletedInvocation:
        """Add ``step`` (an ``add_job_flow_steps`` entry) with the Pipes arguments appended, and wait for it."""
        with open_pipes_session(
            context=context,
            message_reader=self.message_reader,
            context_injector=self.context_injector,
            extras=extras,
        ) as session:
            step = copy.deepcopy(dict(step))
            args = step["HadoopJarStep"]["Args"]
            for flag, value in session.get_bootstrap_cli_arguments().items():
                args += [flag, value]
            check_step_args(args)
            step_id = self.client.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step])["StepIds"][0]
            session.report_launched({"extras": {"cluster_id": cluster_id, "step_id": step_id}})
            context.log.info(f"[pipes] EMR step {step_id} ({step['Name']}) added to cluster {cluster_id}")
            try:
                final = wait_for_step(self.client, cluster_id, step_id, poll_seconds=self.poll_seconds, log=context.log.info)
            except BaseException as exc:
                # Interrupted, or the waiter failed: either way nobody watches the step any more.
                if self.forward_termination or not isinstance(exc, DagsterExecutionInterruptedError):
                    context.log.warning(f"[pipes] stopped waiting for EMR step {step_id} ({type(exc).__name__}): ending it")
                    end_step(self.client, cluster_id, step, step_id, context.log.warning)
                raise
            metadata = self._metadata(cluster_id, step_id)
            invocation = PipesClientCompletedInvocation(session, metadata=metadata)
        # Outside the session: its messages (including an exception the step reported) are all in by now.
        if final["Status"]["State"] != "COMPLETED":
            raise dg.Failure(description=step_failure_message(final, cluster_id), metadata=metadata)
        return invocation

    def _metadata(self, cluster_id: str, step_id: str) -> dict:
        region = self.client.meta.region_name
        meta: dict[str, Any] = {
            "AWS EMR Cluster ID": cluster_id,
            "AWS EMR Step ID": step_id,
            "AWS EMR Cluster": dg.MetadataValue.url(console_url(region, cluster_id)),
        }
        log_uri = self.client.describe_cluster(ClusterId=cluster_id)["Cluster"].get("LogUri")
        if log_uri:
            meta["AWS EMR Step Logs"] = dg.MetadataValue.path(f"{log_uri.rstrip('/')}/{cluster_id}/steps/{step_id}/")
        return meta


class TransientPipesEMRClient(PipesEMRClient):
    """dagster-aws's ``PipesEMRClient`` with a wait that reports failed steps (see module doc)."""

    def __init__(self, *args: Any, poll_seconds: float = 30.0, sleep: Callable[[float], None] = time.sleep, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.poll_seconds = poll_seconds
        self._sleep = sleep

    def _add_log_readers(self, context: Context, response: Mapping[str, Any]) -> None:
        # dagster-aws tails each step's stdout.gz/stderr.gz under the cluster's LogUri. EMR uploads
        # those every few minutes, so the readers mostly wait out their 60 s grace after the step and
        # give up. When the driver's own output already comes through the Pipes messages, skip them.
        if getattr(self.message_reader, "include_stdio_in_messages", False):
            return
        super()._add_log_readers(context, response)

    def _wait_for_completion(self, context: Context, response: Mapping[str, Any]) -> Any:
        try:
            return self._poll_until_ended(context, response)
        except (dg.Failure, DagsterExecutionInterruptedError):
            raise  # the cluster has ended / dagster-aws terminates it on an interrupt
        except BaseException as exc:
            # The waiter failed (throttling, credentials, network): the cluster would run on unwatched.
            context.log.warning(f"[pipes] stopped waiting for EMR cluster {response['JobFlowId']} ({type(exc).__name__}): terminating it")
            try:
                self.client.terminate_job_flows(JobFlowIds=[response["JobFlowId"]])
            except Exception as again:  # noqa: BLE001 - the original error is the one to raise
                context.log.warning(f"[pipes] could not terminate EMR cluster {response['JobFlowId']}: {again}")
            raise

    def _poll_until_ended(self, context: Context, response: Mapping[str, Any]) -> Any:
        cluster_id = response["JobFlowId"]
        seen: dict[str, str] = {}
        while True:
            cluster = self.client.describe_cluster(ClusterId=cluster_id)
            state = cluster["Cluster"]["Status"]["State"]
            if seen.get(cluster_id) != state:
                context.log.info(f"[pipes] EMR cluster {cluster_id}: {state}")
                seen[cluster_id] = state
            for s in self.client.list_steps(ClusterId=cluster_id)["Steps"]:
                if seen.get(s["Id"]) != s["Status"]["State"]:
                    context.log.info(f"[pipes] EMR step {s['Id']} ({s['Name']}): {s['Status']['State']}")
                    seen[s["Id"]] = s["Status"]["State"]
            if state in ENDED_CLUSTER_STATES:
                break
            self._sleep(self.poll_seconds)
        steps = self.client.list_steps(ClusterId=cluster_id)["Steps"]
        unfinished = [s for s in steps if s["Status"]["State"] != "COMPLETED"]
        if unfinished:
            raise dg.Failure(description=step_failure_message(unfinished[0], cluster_id))
        if state != "TERMINATED" or not steps:
            reason = (cluster["Cluster"]["Status"].get("StateChangeReason") or {}).get("Message", "")
            raise dg.Failure(description=f"EMR cluster {cluster_id} ended {state} without completing its step: {reason}")
        return cluster
