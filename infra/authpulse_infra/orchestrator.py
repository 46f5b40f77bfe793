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
  sensors (the stall check), publishes to the alert topic;
- in transient mode (``AUTHPULSE_EMR_TRANSIENT=1``,
  ``authpulse_dagster/aws_emr/step_runner.py``): starts a cluster per step with
  this stack's roles, subnet, security groups and security configuration (the
  stack outputs them), watches it and ends it. ``RunJobFlow`` has no resource
  to scope it to, so it is held to requests carrying the component tag and the
  tag the v2 service policy needs; watching and terminating are held to
  clusters carrying the component tag; ``iam:PassRole`` names exactly the EMR
  service role (to EMR) and the instance role (to EC2).
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from constructs import Construct

from authpulse_infra import grants
from authpulse_infra.nag import acknowledge_wildcards
from authpulse_infra.network import EMR_MANAGED_TAG
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
# Transient clusters (aws_emr/step_runner.py transient_cluster_params tags every one with
# this; tests/infra/test_stack.py checks the two stay equal).
TRANSIENT_CLUSTER_TAG = ("authpulse:component", "batch-step")
# What TransientPipesEMRClient (aws_emr/pipes_clients.py) and dagster-aws's PipesEMRClient
# call on the cluster they started: its state and its steps while waiting, and
# TerminateJobFlows when the run is cancelled or the wait fails.
EMR_TRANSIENT_ACTIONS = ["elasticmapreduce:DescribeCluster", "elasticmapreduce:ListSteps", "elasticmapreduce:TerminateJobFlows"]
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
        clusters_arn = f"arn:{Aws.PARTITION}:elasticmapreduce:{Aws.REGION}:{Aws.ACCOUNT_ID}:cluster/*"
        component_key, component_value = TRANSIENT_CLUSTER_TAG
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="AuthPulse: what the Dagster deployment needs in AWS mode; attach to its role or user",
            statements=[
                iam.PolicyStatement(sid="EmrSteps", actions=EMR_STEP_ACTIONS, resources=[emr_cluster.cluster_arn]),
                iam.PolicyStatement(
                    sid="TransientClusterLaunch",
                    actions=["elasticmapreduce:RunJobFlow"],
                    resources=["*"],  # RunJobFlow has no resource type; the request tags are its scope
                    conditions={"StringEquals": {f"aws:RequestTag/{component_key}": component_value,
                                                 f"aws:RequestTag/{EMR_MANAGED_TAG[0]}": EMR_MANAGED_TAG[1]}},
                ),
                iam.PolicyStatement(
                    sid="TransientClusterWatch",
                    actions=EMR_TRANSIENT_ACTIONS,
                    resources=[clusters_arn],
                    conditions={"StringEquals": {f"aws:ResourceTag/{component_key}": component_value}},
                ),
                iam.PolicyStatement(
                    sid="PassEmrServiceRole",
                    actions=["iam:PassRole"],
                    resources=[emr_cluster.service_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "elasticmapreduce.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="PassEmrInstanceRole",
                    actions=["iam:PassRole"],
                    resources=[emr_cluster.instance_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
                ),
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
        acknowledge_wildcards(
            self.policy,
            [b.arn_for_objects("*") for b in (storage.pipes, storage.raw, storage.aggregates, storage.curated)],
            "Object-level wildcards under the project's own buckets: Dagster uploads the archive and landing files, "
            "exchanges Pipes context and messages under keys made per run, reads step logs and Athena results, and "
            "reads (never writes) the warehouse; the bucket-level actions are on the named buckets only.",
        )
        acknowledge_wildcards(
            self.policy, [analytics.tables_arn],
            "Read-only on every table of the project's own Glue database (the Iceberg namespace), whose set of tables "
            "grows with the schema; no other database.",
        )
        acknowledge_wildcards(
            self.policy, ["*"],
            "Actions with no resource-level permissions in IAM: the CloudWatch metric reads of the lag sensors, "
            "PutMetricData (held to the project's namespace by condition) and RunJobFlow (held by condition to requests "
            "tagged authpulse:component=batch-step and for-use-with-amazon-emr-managed-policies=true).",
        )
        acknowledge_wildcards(
            self.policy, [clusters_arn],
            "Transient clusters have ids only once started, so they are named by tag: DescribeCluster, ListSteps and "
            "TerminateJobFlows only on clusters of this account and region tagged authpulse:component=batch-step; the "
            "policy grants no AddTags, so it cannot put that tag on any other cluster.",
        )
