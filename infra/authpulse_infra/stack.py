"""The AuthPulse stack: the parts wired together, and the outputs Dagster reads.

Environment-agnostic on purpose (no account or region in the code): synthesis
then needs no AWS credentials and no context lookups, so it works offline and
in CI, and ``cdk deploy`` targets whatever account/region the credentials
name. The VPC takes its AZs from ``Fn::GetAZs`` at deploy time.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Stack, Tags
from constructs import Construct

from authpulse_infra.alerting import Alerting
from authpulse_infra.analytics import Analytics
from authpulse_infra.api import SocApi
from authpulse_infra.config import InfraConfig
from authpulse_infra.emr import EmrCluster
from authpulse_infra.network import Network
from authpulse_infra.orchestrator import OrchestratorPolicy
from authpulse_infra.outputs import RUNTIME_ENV_VARS, TRANSIENT_EMR_ENV_VARS, output_key
from authpulse_infra.storage import ATHENA_RESULTS_PREFIX, WAREHOUSE_PREFIX, Storage
from authpulse_infra.streaming import Streaming


class AuthPulseStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: InfraConfig, **kwargs) -> None:
        super().__init__(scope, id, description="AuthPulse: authentication-risk analytics (Kinesis, EMR Spark, Iceberg on S3/Glue, Athena)", **kwargs)
        self.config = config
        Tags.of(self).add("project", config.prefix)

        self.storage = Storage(self, "Storage", config=config)
        self.network = Network(self, "Network", config=config, flow_log_bucket=self.storage.logs)
        self.streaming = Streaming(self, "Streaming", config=config, key=self.storage.data_key)
        self.alerting = Alerting(self, "Alerting", config=config, stream=self.streaming.stream)
        self.analytics = Analytics(
            self,
            "Analytics",
            config=config,
            warehouse_uri=self.storage.warehouse_uri,
            results_uri=self.storage.athena_output_uri,
            key=self.storage.data_key,
        )
        self.emr = EmrCluster(
            self,
            "Emr",
            config=config,
            network=self.network,
            storage=self.storage,
            streaming=self.streaming,
            alerting=self.alerting,
            analytics=self.analytics,
        )
        self.orchestrator = OrchestratorPolicy(
            self,
            "Orchestrator",
            config=config,
            storage=self.storage,
            streaming=self.streaming,
            alerting=self.alerting,
            analytics=self.analytics,
            emr_cluster=self.emr,
        )
        self._outputs()

    def _outputs(self) -> None:
        values = {
            "AWS_REGION": Aws.REGION,
            "AUTHPULSE_WAREHOUSE_URI": self.storage.warehouse_uri,
            "AUTHPULSE_RAW_URI": self.storage.raw_uri,
            "AUTHPULSE_GLUE_DATABASE": self.analytics.database_name,
            "AUTHPULSE_STREAM": self.streaming.stream.stream_name,
            "AUTHPULSE_ALERT_TOPIC_ARN": self.alerting.topic.topic_arn,
            "AUTHPULSE_METRICS_NAMESPACE": self.config.metrics_namespace,
            "AUTHPULSE_EMR_CLUSTER_ID": self.emr.cluster.ref,
            "AUTHPULSE_PIPES_BUCKET": self.storage.pipes.bucket_name,
            "AUTHPULSE_EMR_ARTIFACTS_URI": self.storage.artifacts_uri,
            "AUTHPULSE_ATHENA_WORKGROUP": self.analytics.workgroup.name,
            "AUTHPULSE_ATHENA_OUTPUT": self.storage.athena_output_uri,
            # Transient clusters (AUTHPULSE_EMR_TRANSIENT=1) are built like the platform cluster.
            "AUTHPULSE_EMR_RELEASE_LABEL": self.config.emr_release_label,
            "AUTHPULSE_EMR_SERVICE_ROLE": self.emr.service_role.role_name,
            "AUTHPULSE_EMR_INSTANCE_PROFILE": self.emr.instance_profile.ref,
            "AUTHPULSE_EMR_SUBNET_ID": self.network.emr_subnet.subnet_id,
            "AUTHPULSE_EMR_SECURITY_CONFIGURATION": self.emr.security_configuration.ref,
            "AUTHPULSE_EMR_PRIMARY_SG": self.emr.primary_sg.security_group_id,
            "AUTHPULSE_EMR_CORE_SG": self.emr.core_sg.security_group_id,
            "AUTHPULSE_EMR_SERVICE_ACCESS_SG": self.emr.service_sg.security_group_id,
        }
        # Fail synthesis, not a deploy, if the contract and the stack drift apart.
        assert set(values) == set(RUNTIME_ENV_VARS), sorted(set(values) ^ set(RUNTIME_ENV_VARS))
        for name in RUNTIME_ENV_VARS:
            CfnOutput(self, output_key(name), value=values[name], description=f"{name} for AUTHPULSE_ENV=aws")
        # The SOC API (authpulse_infra/api.py) runs with the same runtime settings as Dagster.
        # Opt-in (`-c soc_api=on`) until the whole-stack checks in tests/infra/test_stack.py cover its resources.
        self.api = None
        if str(self.node.try_get_context("soc_api") or "").lower() in ("1", "true", "on", "yes"):
            self.api = SocApi(
                self, "Api", config=self.config, runtime_env={k: v for k, v in values.items() if k not in TRANSIENT_EMR_ENV_VARS},
                warehouse_bucket_arn=self.storage.curated.bucket_arn,
                warehouse_prefix=WAREHOUSE_PREFIX, athena_output_bucket_arn=self.storage.aggregates.bucket_arn,
                athena_output_prefix=ATHENA_RESULTS_PREFIX, data_key=self.storage.data_key,
                glue_database=self.analytics.database_name, athena_workgroup=self.analytics.workgroup.name,
            )

        # Not runtime variables, but needed by the runbook.
        CfnOutput(self, "DagsterPolicyArn", value=self.orchestrator.policy.managed_policy_arn, description="attach to the identity that runs Dagster")
        CfnOutput(self, "EmrLogUri", value=self.storage.emr_log_uri, description="EMR cluster and step logs")
        CfnOutput(self, "DataKeyArn", value=self.storage.data_key.key_arn, description="KMS key of buckets, stream and EMR disks")
        CfnOutput(self, "AlertsKeyArn", value=self.alerting.key.key_arn, description="KMS key of the alert topic")
