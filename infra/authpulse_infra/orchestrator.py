"""The managed policy for whatever identity runs Dagster (a laptop user, an
ECS task role, an EC2 instance role): the stack does not know where Dagster
runs, so it publishes the permissions and the runbook attaches them.

What the Dagster side does in AWS mode, and nothing else:
- submits, watches and cancels steps on this cluster (Pipes via AddJobFlowSteps);
- uploads the project archive and exchanges Pipes context/messages in the
  Pipes bucket, and reads EMR step logs there;
- puts landing files in the raw bucket and replays them into the stream;
- reads the warehouse and the Glue catalog, runs Athena queries in the
  workgroup (results in the aggregates bucket);
- reads stream-lag metrics and the newest record of each shard for its
  sensors (the stall check), publishes to the alert topic.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from authpulse_infra import grants
from authpulse_infra.alerting import Alerting
from authpulse_infra.analytics import Analytics
from authpulse_infra.config import InfraConfig
from authpulse_infra.emr import EmrCluster
from authpulse_infra.storage import Storage
from authpulse_infra.streaming import Streaming

EMR_STEP_ACTIONS = [
    "elasticmapreduce:AddJobFlowSteps",
    "elasticmapreduce:DescribeStep",
    "elasticmapreduce:ListSteps",
    "elasticmapreduce:CancelSteps",
    "elasticmapreduce:DescribeCluster",
]
KINESIS_WRITE = [
    "kinesis:PutRecord",
    "kinesis:PutRecords",
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:ListShards",
]
# The stall check of sensors/streaming_health.py reads the newest record of each shard
# (ListShards, GetShardIterator LATEST/AT_TIMESTAMP, GetRecords Limit=1); without these it
# got AccessDenied on every tick.
KINESIS_STALL_CHECK = ["kinesis:ListShards", "kinesis:GetShardIterator", "kinesis:GetRecords"]
GLUE_READ = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"]
ATHENA_QUERY = [
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
    "athena:GetWorkGroup",
]
# Reading metrics has no resource-level permissions in CloudWatch.
CLOUDWATCH_READ = ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"]


class OrchestratorPolicy(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: InfraConfig,
        storage: Storage,
        streaming: Streaming,
        alerting: Alerting,
        analytics: Analytics,
        emr_cluster: EmrCluster,
    ) -> None:
        super().__init__(scope, id)
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="AuthPulse: what the Dagster deployment needs in AWS mode; attach to its role or user",
            statements=[
                iam.PolicyStatement(sid="EmrSteps", actions=EMR_STEP_ACTIONS, resources=[emr_cluster.cluster_arn]),
                *grants.bucket_read_write("PipesAndLanding", [storage.pipes, storage.raw, storage.aggregates]),
                *grants.bucket_read("WarehouseRead", [storage.curated]),
                grants.key_use("DataKey", [storage.data_key]),
                iam.PolicyStatement(sid="Replay", actions=KINESIS_WRITE, resources=[streaming.stream.stream_arn]),
                iam.PolicyStatement(sid="StallCheck", actions=KINESIS_STALL_CHECK, resources=[streaming.stream.stream_arn]),
                iam.PolicyStatement(sid="AlertPublish", actions=["sns:Publish"], resources=[alerting.topic.topic_arn]),
                grants.key_use("AlertKey", [alerting.key], ["kms:GenerateDataKey", "kms:Decrypt"]),
                iam.PolicyStatement(
                    sid="CatalogRead",
                    actions=GLUE_READ,
                    resources=[analytics.catalog_arn, analytics.database_arn, analytics.tables_arn],
                ),
                iam.PolicyStatement(sid="AthenaQueries", actions=ATHENA_QUERY, resources=[analytics.workgroup_arn]),
                iam.PolicyStatement(sid="LagMetricsRead", actions=CLOUDWATCH_READ, resources=["*"]),
                iam.PolicyStatement(
                    sid="MetricsWrite",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": config.metrics_namespace}},
                ),
            ],
        )
