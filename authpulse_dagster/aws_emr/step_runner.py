"""``EmrStepRunner``: the ``step_runner`` resource in AWS mode.

Each asset's Spark work runs as an EMR step that launches the same entry point
as the local runner (``python -m authpulse_dagster.steps STEP --start --end
--run-id``, through ``aws_emr/launcher.py``), and reports its materializations
and check results back through Dagster Pipes over S3
(``PipesS3ContextInjector`` / ``PipesS3MessageReader`` on this side,
``PipesS3ContextLoader`` / ``PipesS3MessageWriter`` in the step). The asset
code is the same in both modes: it calls ``step_runner.run(context, step)``.

Where the step runs (``AUTHPULSE_EMR_*``):

- ``AUTHPULSE_EMR_CLUSTER_ID``: added to that long-running cluster with
  ``ActionOnFailure=CONTINUE`` (:class:`PipesEMRStepClient`);
- ``AUTHPULSE_EMR_TRANSIENT=1``: a cluster per step, ended by the step
  (``ActionOnFailure=TERMINATE_CLUSTER``), through dagster-aws's
  ``PipesEMRClient`` (:class:`TransientPipesEMRClient`).
"""

from __future__ import annotations

from typing import Iterator, Optional

import dagster as dg
from dagster_aws.pipes import PipesS3ContextInjector, PipesS3MessageReader

from authpulse_dagster.aws import aws_client
from authpulse_dagster.aws_emr.pipes_clients import PipesEMRStepClient, TransientPipesEMRClient
from authpulse_dagster.aws_emr.submit import spark_submit_args, step_definition
from authpulse_dagster.partitions import context_days
from authpulse_dagster.resources.step_runner import STEP_MODULE, StepOutput, step_command_args
from authpulse_dagster.settings import Settings

PIPES_CONTEXT_PREFIX = "authpulse/pipes-context/"


def transient_cluster_params(settings: Settings, name: str, step: dict) -> dict:
    """``run_job_flow`` parameters for a cluster that runs ``step`` and then ends."""
    emr = settings.require_aws().emr
    groups = [{"Name": "primary", "InstanceRole": "MASTER", "InstanceType": emr.instance_type, "InstanceCount": 1}]
    if emr.instance_count > 1:
        groups.append({"Name": "core", "InstanceRole": "CORE", "InstanceType": emr.instance_type, "InstanceCount": emr.instance_count - 1})
    instances: dict = {"InstanceGroups": groups, "KeepJobFlowAliveWhenNoSteps": False, "TerminationProtected": False}
    if emr.subnet_id:
        instances["Ec2SubnetId"] = emr.subnet_id
    return {
        "Name": name[:256],
        "ReleaseLabel": emr.release_label,
        "LogUri": f"{emr.log_uri}/",
        "Applications": [{"Name": "Spark"}],
        "Instances": instances,
        "Steps": [step],
        "ServiceRole": emr.service_role,
        "JobFlowRole": emr.instance_profile,
        "VisibleToAllUsers": True,
        "Tags": [{"Key": "authpulse:component", "Value": "batch-step"}],
    }


class EmrStepRunner(dg.ConfigurableResource):
    """Runs steps on Amazon EMR through Dagster Pipes (see module doc)."""

    poll_seconds: Optional[float] = None  # step/cluster polling; default AUTHPULSE_EMR_POLL_SECONDS
    message_poll_seconds: float = 10.0  # how often Pipes messages are read from S3
    include_stdio: bool = True  # forward the driver's stdout/stderr to the Dagster run through Pipes

    def run(self, context: dg.AssetExecutionContext, step: str) -> Iterator[StepOutput]:
        settings = Settings.from_env()
        aws = settings.require_aws()
        days = context_days(context)
        run_id = context.run.run_id
        label = f"authpulse {step} {days[0]}..{days[-1]} run {run_id[:8]}"
        args = spark_submit_args(settings, STEP_MODULE, step_command_args(step, days, run_id), app_name=f"authpulse-{step}")
        s3 = aws_client("s3", settings)
        emr = aws_client("emr", settings)
        reader = PipesS3MessageReader(
            bucket=aws.pipes_bucket, client=s3, interval=self.message_poll_seconds, include_stdio_in_messages=self.include_stdio
        )
        injector = PipesS3ContextInjector(bucket=aws.pipes_bucket, client=s3, key_prefix=PIPES_CONTEXT_PREFIX)
        poll = self.poll_seconds if self.poll_seconds is not None else aws.emr.poll_seconds
        if aws.emr.transient:
            client = TransientPipesEMRClient(
                client=emr, message_reader=reader, context_injector=injector, poll_seconds=poll
            )
            params = transient_cluster_params(settings, label, step_definition(label, args, "TERMINATE_CLUSTER"))
            invocation = client.run(context=context, run_job_flow_params=params)  # type: ignore[arg-type]
        else:
            client = PipesEMRStepClient(client=emr, message_reader=reader, context_injector=injector, poll_seconds=poll)
            invocation = client.run(
                context=context, cluster_id=aws.emr.cluster_id, step=step_definition(label, args, "CONTINUE")
            )
        yield from invocation.get_results()
