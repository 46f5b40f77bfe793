"""The SOC API in AWS: API Gateway HTTP API -> Lambda (the FastAPI app through Mangum) -> DynamoDB.

- **Table**: keys, triage state and audit records (``authpulse_dagster/api/store.py``
  declares the same keys and the ``kind-index``), on demand, encrypted with
  its own KMS key (rotated), point-in-time recovery on, kept on stack deletion
  when ``retain_data``.
- **Function**: a container image (the project and its dependencies exceed a
  zip package) from the ECR repository named by context
  ``api_image_repository`` (default ``<prefix>-api``) at tag
  ``api_image_tag``; built and pushed by the runbook before the deploy. Its
  role may read the Iceberg tables (Glue + the warehouse prefix), run Athena
  queries in the project's workgroup, read and write the table and the triage
  export prefix, and write its own log group: nothing else.
- **HTTP API**: one ``$default`` stage with access logs and throttling
  (context ``api_rate_limit`` / ``api_burst_limit``, 50/100 by default); every
  route goes to the function, which authenticates each ``/v1`` request itself
  (Bearer API keys, hashed in the table). CORS stays off.
"""

from __future__ import annotations

from typing import Mapping

from aws_cdk import Aws, CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from authpulse_infra.config import InfraConfig
from authpulse_infra.nag import acknowledge, acknowledge_wildcards


# The Iceberg tables the API reads (authpulse_dagster/lakehouse/schemas.py) and the triage view.
_READ_TABLES = ("alerts", "user_risk_daily", "host_risk_daily", "risk_scores", "auth_events", "host_popularity",
                "user_host_daily", "user_route_daily", "alert_triage")


class SocApi(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: InfraConfig,
        runtime_env: Mapping[str, str],
        warehouse_bucket_arn: str,
        warehouse_prefix: str,
        athena_output_bucket_arn: str,
        athena_output_prefix: str,
        data_key: kms.IKey,
        glue_database: str,
        athena_workgroup: str,
    ) -> None:
        super().__init__(scope, id)
        warehouse_prefix, athena_output_prefix = warehouse_prefix.strip("/"), athena_output_prefix.strip("/")
        context = self.node.try_get_context
        self.table_key = kms.Key(self, "TableKey", enable_key_rotation=True,
                                 description="AuthPulse SOC API table (API keys, triage state, audit trail)",
                                 removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY)
        self.table = dynamodb.Table(
            self, "Table",
            table_name=f"{config.prefix}-api",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.table_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
            deletion_protection=config.retain_data,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        self.table.add_global_secondary_index(
            index_name="kind-index",
            partition_key=dynamodb.Attribute(name="kind", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )

        self.log_group = logs.LogGroup(self, "FunctionLogs", retention=logs.RetentionDays.ONE_MONTH,
                                       removal_policy=RemovalPolicy.DESTROY)
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH,
                                         removal_policy=RemovalPolicy.DESTROY)
        self.role = iam.Role(self, "FunctionRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description="AuthPulse SOC API function: read the lakehouse, run Athena, own table and triage export")
        self._grant(warehouse_bucket_arn, warehouse_prefix, athena_output_bucket_arn, athena_output_prefix, data_key,
                    glue_database, athena_workgroup)

        triage_uri = f"{runtime_env['AUTHPULSE_WAREHOUSE_URI']}/_triage"
        repository = ecr.Repository.from_repository_name(self, "Images", context("api_image_repository") or f"{config.prefix}-api")
        self.function = lambda_.DockerImageFunction(
            self, "Function",
            code=lambda_.DockerImageCode.from_ecr(repository, tag_or_digest=str(context("api_image_tag") or "latest")),
            role=self.role,
            memory_size=1769,  # one full vCPU: DuckDB and pyarrow are CPU-bound
            timeout=Duration.seconds(29),  # API Gateway's integration limit
            architecture=lambda_.Architecture.X86_64,
            log_group=self.log_group,
            environment={
                # AWS_REGION is the Lambda runtime's own (reserved); the rest are the stack's runtime outputs.
                **{k: v for k, v in runtime_env.items() if k != "AWS_REGION"},
                "AUTHPULSE_ENV": "aws",
                "AUTHPULSE_API_TABLE": self.table.table_name,
                "AUTHPULSE_TRIAGE_URI": triage_uri,
            },
            description="AuthPulse SOC API (FastAPI via Mangum)",
        )

        # The triage export as a Glue table, so Athena runs the named queries that join it (recent_alerts, top_risky_users).
        columns = [("alert_id", "string"), ("status", "string"), ("assignee", "string"), ("version", "bigint"),
                   ("updated_at", "timestamp"), ("updated_by", "string"), ("entity_type", "string"), ("entity", "string"),
                   ("event_date", "date")]
        self.triage_table = glue.CfnTable(
            self, "TriageView", catalog_id=Aws.ACCOUNT_ID, database_name=glue_database,
            table_input=glue.CfnTable.TableInputProperty(
                name="alert_triage", table_type="EXTERNAL_TABLE", description="SOC API triage state (authpulse_dagster/api/export.py)",
                parameters={"classification": "parquet"},
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=f"{triage_uri}/alert_triage/",
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in columns],
                    input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"),
                ),
            ),
        )

        self.http_api = apigw.HttpApi(
            self, "HttpApi", api_name=f"{config.prefix}-soc-api", create_default_stage=False,
            description="AuthPulse SOC API: alerts, entities, named queries, triage",
            default_integration=integrations.HttpLambdaIntegration("Lambda", self.function),
        )
        self.stage = apigw.HttpStage(
            self, "Stage", http_api=self.http_api, stage_name="$default", auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=int(context("api_rate_limit") or 50),
                                            burst_limit=int(context("api_burst_limit") or 100)),
        )
        # Access logs through the L1 stage (the L2 takes them only as a jsii interface object).
        cfn_stage: apigw.CfnStage = self.stage.node.default_child  # type: ignore[assignment]
        cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=self.access_logs.log_group_arn,
            format='{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","time":"$context.requestTime",'
                   '"method":"$context.httpMethod","path":"$context.path","status":"$context.status",'
                   '"latencyMs":"$context.responseLatency"}',
        )
        CfnOutput(self, "Url", value=self.stage.url, description="SOC API base URL (see README: SOC API)")
        CfnOutput(self, "TableName", value=self.table.table_name, description="AUTHPULSE_API_TABLE for `authpulse api keys`")

        # cdk-nag (AwsSolutions) acknowledgements, each with its reason.
        acknowledge(self.http_api, "AwsSolutions-APIG4", "The function authenticates every /v1 request itself (Bearer API keys, "
                    "stored hashed in the table, with scopes and revocation); /healthz is public on purpose.")
        # Each remaining wildcard is an object-key or log-stream suffix under this project's own resources.
        acknowledge_wildcards(
            self.policy,
            [f"{warehouse_bucket_arn}/{warehouse_prefix}/*", f"{warehouse_bucket_arn}/{warehouse_prefix}/_triage/*",
             f"{athena_output_bucket_arn}/{athena_output_prefix}/*", f"{self.log_group.log_group_arn}:*"],
            "An object-key or log-stream wildcard under this project's own warehouse, triage-export and Athena-result "
            "prefixes and the function's log group; everything else is named.",
        )

    def _grant(self, warehouse_bucket_arn: str, warehouse_prefix: str, athena_bucket_arn: str, athena_prefix: str,
               data_key: kms.IKey, glue_database: str, workgroup: str) -> None:
        region, account, partition = Aws.REGION, Aws.ACCOUNT_ID, Aws.PARTITION
        statements = [
            iam.PolicyStatement(sid="TriageTable", actions=[
                "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
                "dynamodb:ConditionCheckItem"], resources=[self.table.table_arn, f"{self.table.table_arn}/index/kind-index"]),
            iam.PolicyStatement(sid="TableKey", actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                                resources=[self.table_key.key_arn]),
            iam.PolicyStatement(sid="DataKey", actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                                resources=[data_key.key_arn]),
            iam.PolicyStatement(sid="GlueRead", actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"],
                                resources=[f"arn:{partition}:glue:{region}:{account}:catalog",
                                           f"arn:{partition}:glue:{region}:{account}:database/{glue_database}",
                                           *[f"arn:{partition}:glue:{region}:{account}:table/{glue_database}/{t}" for t in _READ_TABLES]]),
            iam.PolicyStatement(sid="WarehouseRead", actions=["s3:GetObject"], resources=[f"{warehouse_bucket_arn}/{warehouse_prefix}/*"]),
            iam.PolicyStatement(sid="TriageExport", actions=["s3:PutObject"],
                                resources=[f"{warehouse_bucket_arn}/{warehouse_prefix}/_triage/*"]),
            iam.PolicyStatement(sid="BucketList", actions=["s3:ListBucket", "s3:GetBucketLocation"],
                                resources=[warehouse_bucket_arn, athena_bucket_arn]),
            iam.PolicyStatement(sid="Athena", actions=["athena:StartQueryExecution", "athena:GetQueryExecution",
                                                       "athena:GetQueryResults", "athena:StopQueryExecution"],
                                resources=[f"arn:{partition}:athena:{region}:{account}:workgroup/{workgroup}"]),
            iam.PolicyStatement(sid="AthenaResults", actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                                resources=[f"{athena_bucket_arn}/{athena_prefix}/*"]),
            iam.PolicyStatement(sid="Logs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                resources=[f"{self.log_group.log_group_arn}:*"]),
        ]
        policy = iam.Policy(self, "FunctionPolicy", statements=statements)
        policy.attach_to_role(self.role)
        self.policy = policy
