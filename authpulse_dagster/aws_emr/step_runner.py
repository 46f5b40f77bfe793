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
  ``PipesEMRClient`` (:class:`TransientPipesEMRClient`). It is built like the
  platform cluster: in the stack's private subnet with its EMR-managed security
  groups, its security configuration (disk and S3 encryption, TLS, IMDSv2), the
  ``for-use-with-amazon-emr-managed-policies`` tag the v2 service policy
  requires, and EMR's Iceberg enabled. The stack outputs every one of them.
"""

from __future__ import annotations

from typing import Iterator, Optional

import dagster as dg
from dagster_aws.pipes import PipesS3ContextInjector

from authpulse_dagster.aws import aws_client
from authpulse_dagster.aws_emr.pipes_clients import (
    PIPES_CONTEXT_PREFIX,
    PipesEMRStepClient,
    PrefixedS3MessageReader,
    TransientPipesEMRClient,
)
from authpulse_dagster.aws_emr.submit import spark_submit_args, step_definition
from authpulse_dagster.partitions import context_days
from authpulse_dagster.resources.run_settings import run_settings
from authpulse_dagster.resources.step_runner import STEP_MODULE, StepOutput, step_command_args
from authpulse_dagster.settings import Settings

# The v2 service policy (AmazonEMRServicePolicy_v2) acts only on clusters and EC2 resources with this tag.
EMR_MANAGED_TAG = {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"}
# The Dagster policy may run, watch and terminate only clusters carrying this tag (infra/orchestrator.py).
COMPONENT_TAG = {"Key": "authpulse:component", "Value": "batch-step"}
# EMR's own Iceberg (the release ships it; this classification puts it on Spark's classpath).
ICEBERG_CLASSIFICATION = {"Classification": "iceberg-defaults", "Properties": {"iceberg.enabled": "true"}}


def transient_cluster_params(settings: Settings, name: str, step: dict) -> dict:
    """``run_job_flow`` parameters for a cluster that runs ``step`` and then ends."""
    emr = settings.require_aws().emr
    groups = [{"Name": "primary", "InstanceRole": "MASTER", "InstanceType": emr.instance_type, "InstanceCount": 1}]
    if emr.instance_count > 1:
        groups.append({"Name": "core", "InstanceRole": "CORE", "InstanceType": emr.instance_type, "InstanceCount": emr.instance_count - 1})
    instances: dict = {
        "InstanceGroups": groups,
        "KeepJobFlowAliveWhenNoSteps": False,
        "TerminationProtected": False,
        "Ec2SubnetId": emr.subnet_id,
        "EmrManagedMasterSecurityGroup": emr.primary_security_group,
        "EmrManagedSlaveSecurityGroup": emr.core_security_group,
        "ServiceAccessSecurityGroup": emr.service_access_security_group,
    }
    return {
        "Name": name[:256],
        "ReleaseLabel": emr.release_label,
        "LogUri": f"{emr.log_uri}/",
        "Applications": [{"Name": "Spark"}],
        "Configurations": [dict(ICEBERG_CLASSIFICATION)],
        "Instances": instances,
        "Steps": [step],
        "ServiceRole": emr.service_role,
        "JobFlowRole": emr.instance_profile,
        "SecurityConfiguration": emr.security_configuration,
        "VisibleToAllUsers": True,
        "Tags": [dict(COMPONENT_TAG), dict(EMR_MANAGED_TAG)],
    }


class EmrStepRunner(dg.ConfigurableResource):
    """Runs steps on Amazon EMR through Dagster Pipes (see module doc)."""

    poll_seconds: Optional[float] = None  # step/cluster polling; default AUTHPULSE_EMR_POLL_SECONDS
    message_poll_seconds: float = 10.0  # how often Pipes messages are read from S3
    include_stdio: bool = True  # forward the driver's stdout/stderr to the Dagster run through Pipes

    def run(self, context: dg.AssetExecutionContext, step: str) -> Iterator[StepOutput]:
        settings = run_settings()
        aws = settings.require_aws()
        days = context_days(context)
        run_id = context.run.run_id
        label = f"authpulse {step} {days[0]}..{days[-1]} run {run_id[:8]}"
        args = spark_submit_args(settings, STEP_MODULE, step_command_args(step, days, run_id), app_name=f"authpulse-{step}")
        s3 = aws_client("s3", settings)
        emr = aws_client("emr", settings)
        reader = PrefixedS3MessageReader(
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
