"""The EMR cluster that runs the Spark steps and the long-running streaming step.

One long-lived cluster rather than one per run: the streaming job is a step
that never ends (DESIGN.md), and Dagster adds batch steps beside it
(``AddJobFlowSteps`` on ``AUTHPULSE_EMR_CLUSTER_ID``), so the step concurrency
is above 1. Core nodes stay at a fixed count (they hold HDFS and the step
drivers); EMR managed scaling adds task nodes for backfills and removes them
when YARN is idle.

Security:
- private subnet, EMR-managed security groups, a service-access security group
  (required for clusters in private subnets);
- a security configuration with at-rest encryption (EMRFS SSE-KMS, local disks
  and EBS volumes with the data key) and in-transit encryption with the
  operator's PEM certificates (``CertificateProviderType: PEM``, a zip in S3 outside
  the stack; EMR documents only PEM and Custom providers), plus IMDSv2 only;
- a service role with AWS's tag-scoped ``AmazonEMRServicePolicy_v2`` (it can
  only touch EC2 resources tagged ``for-use-with-amazon-emr-managed-policies``)
  plus what that policy lacks for this cluster: passing *our* instance role and
  using the data key for EBS encryption;
- an instance role with no managed policy at all: exactly the project's
  buckets, stream, topic, Glue database and metric namespace.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnParameter, CfnTag, Fn, Stack, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_emr as emr
from aws_cdk import aws_iam as iam
from constructs import Construct

from authpulse_infra import grants
from authpulse_infra.nag import acknowledge, acknowledge_wildcards
from authpulse_infra.alerting import Alerting
from authpulse_infra.analytics import Analytics
from authpulse_infra.config import TLS_PEM_ZIP_URI, InfraConfig
from authpulse_infra.network import EMR_MANAGED_TAG, Network
from authpulse_infra.storage import Storage
from authpulse_infra.streaming import Streaming

EMR_SERVICE_POLICY = "service-role/AmazonEMRServicePolicy_v2"

# The Glue calls pyiceberg's GlueCatalog makes (load/create/commit/drop a
# table, look up the namespace). CreateDatabase on our database only: pyiceberg's
# create_namespace_if_not_exists calls it and expects "already exists", not
# "access denied". No GetDatabases (it needs every database) and no DeleteDatabase.
GLUE_ACTIONS = [
    "glue:GetDatabase",
    "glue:CreateDatabase",
    "glue:GetTable",
    "glue:GetTables",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:DeleteTable",
]
KINESIS_READ = [
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:ListShards",
    "kinesis:GetShardIterator",
    "kinesis:GetRecords",
]


class EmrCluster(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: InfraConfig,
        network: Network,
        storage: Storage,
        streaming: Streaming,
        alerting: Alerting,
        analytics: Analytics,
    ) -> None:
        super().__init__(scope, id)
        vpc = network.vpc

        # --- security groups: EMR writes the rules between them itself ----------
        self.primary_sg = ec2.SecurityGroup(self, "PrimarySg", vpc=vpc, description="EMR primary (managed by EMR)", allow_all_outbound=True)
        self.core_sg = ec2.SecurityGroup(self, "CoreSg", vpc=vpc, description="EMR core/task (managed by EMR)", allow_all_outbound=True)
        self.service_sg = ec2.SecurityGroup(
            self,
            "ServiceAccessSg",
            vpc=vpc,
            description="EMR service access for a private-subnet cluster (managed by EMR)",
            allow_all_outbound=False,  # EMR adds exactly the 8443 rules it needs
        )
        for sg in (self.primary_sg, self.core_sg, self.service_sg):
            Tags.of(sg).add(*EMR_MANAGED_TAG)
        # The interface endpoints (KMS for disk encryption, Kinesis, Glue, SNS, metrics, logs)
        # take HTTPS from the nodes only. The cluster depends on the endpoints, rules included.
        for endpoint in network.interface_endpoints.values():
            for sg in (self.primary_sg, self.core_sg):
                endpoint.connections.allow_default_port_from(sg, "HTTPS from the EMR nodes")

        # PEM, the documented provider that needs no code of ours (the other is a
        # custom provider jar). The zip is the operator's (see config.py and
        # docs/deploy-aws.md): given as context, or else a parameter at deploy time.
        if config.emr_tls_pem_zip_uri:
            tls_zip = config.emr_tls_pem_zip_uri
        else:
            tls_zip = CfnParameter(
                Stack.of(self), "EmrTlsPemZipUri", type="String", allowed_pattern=TLS_PEM_ZIP_URI,
                description="S3 URI of the zip with privateKey.pem and certificateChain.pem for EMR in-transit TLS "
                "(docs/deploy-aws.md); in a bucket outside this stack",
                constraint_description="an s3://bucket/key.zip URI",
            ).value_as_string

        # --- instance role (what Spark on the nodes may do) ----------------------
        # EMR requires the instance profile to carry the role's name.
        role_name = f"{config.prefix}-emr-instance-{Aws.REGION}"
        self.instance_role = iam.Role(
            self,
            "InstanceRole",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="AuthPulse EMR nodes: project buckets, stream, topic, Glue database, metrics",
            inline_policies={
                "authpulse-data": iam.PolicyDocument(
                    statements=[
                        # Landing files are read, never rewritten, by the cluster.
                        *grants.bucket_read("RawRead", [storage.raw]),
                        # Warehouse, aggregates, and Pipes (artifacts, messages, EMR logs).
                        *grants.bucket_read_write("DataReadWrite", [storage.curated, storage.aggregates, storage.pipes]),
                        grants.key_use("DataKey", [storage.data_key]),
                        # The TLS zip for in-transit encryption: that object only.
                        iam.PolicyStatement(
                            sid="TlsCertificates", actions=["s3:GetObject"],
                            resources=[Fn.join("", [f"arn:{Aws.PARTITION}:s3:::", Fn.select(1, Fn.split("s3://", tls_zip))])],
                        ),
                        iam.PolicyStatement(sid="StreamRead", actions=KINESIS_READ, resources=[streaming.stream.stream_arn]),
                        iam.PolicyStatement(sid="AlertPublish", actions=["sns:Publish"], resources=[alerting.topic.topic_arn]),
                        grants.key_use("AlertKey", [alerting.key], ["kms:GenerateDataKey", "kms:Decrypt"]),
                        iam.PolicyStatement(
                            sid="IcebergCatalog",
                            actions=GLUE_ACTIONS,
                            resources=[analytics.catalog_arn, analytics.database_arn, analytics.tables_arn],
                        ),
                        # PutMetricData has no resource-level permissions; the
                        # namespace condition is the only scope it supports.
                        iam.PolicyStatement(
                            sid="StreamMetrics",
                            actions=["cloudwatch:PutMetricData"],
                            resources=["*"],
                            conditions={"StringEquals": {"cloudwatch:namespace": config.metrics_namespace}},
                        ),
                    ]
                )
            },
        )
        self.instance_profile = iam.CfnInstanceProfile(self, "InstanceProfile", instance_profile_name=role_name, roles=[self.instance_role.role_name])
        acknowledge_wildcards(
            self.instance_role,
            [b.arn_for_objects("*") for b in (storage.raw, storage.curated, storage.aggregates, storage.pipes)],
            "Object-level wildcards under the project's own buckets: Spark reads landing files it is given and writes "
            "Iceberg data and metadata files, Athena-side exports and Pipes messages whose keys it makes up as it runs; "
            "the bucket-level actions are on the named buckets only.",
        )
        acknowledge_wildcards(
            self.instance_role, [analytics.tables_arn],
            "Every table of the project's own Glue database (the Iceberg namespace): pyiceberg creates, commits and "
            "drops the pipeline's tables, whose set grows with the schema; no other database and no database-level delete.",
        )
        acknowledge_wildcards(
            self.instance_role, ["*"],
            "cloudwatch:PutMetricData only, which has no resource-level permissions in IAM; the statement is held to "
            "the project's metric namespace by the cloudwatch:namespace condition.",
        )

        # --- service role (what EMR may do to build and scale the cluster) -------
        self.service_role = iam.Role(
            self,
            "ServiceRole",
            assumed_by=iam.ServicePrincipal(
                "elasticmapreduce.amazonaws.com",
                # Confused-deputy guard: only EMR acting for this account.
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
            description="AuthPulse EMR service role (tag-scoped v2 policy)",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(EMR_SERVICE_POLICY)],
            inline_policies={
                "authpulse-emr": iam.PolicyDocument(
                    statements=[
                        # The v2 policy may pass only EMR_EC2_DefaultRole.
                        iam.PolicyStatement(
                            sid="PassInstanceRole",
                            actions=["iam:PassRole"],
                            resources=[self.instance_role.role_arn],
                            conditions={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
                        ),
                        # EBS encryption with a customer key: EC2 creates the
                        # volumes through grants on the service role's behalf.
                        grants.key_use(
                            "EbsEncryption",
                            [storage.data_key],
                            # The documented key-user set for EBS, wildcards spelled out.
                            [
                                "kms:Encrypt",
                                "kms:Decrypt",
                                "kms:ReEncryptFrom",
                                "kms:ReEncryptTo",
                                "kms:GenerateDataKey",
                                "kms:GenerateDataKeyWithoutPlaintext",
                                "kms:DescribeKey",
                            ],
                        ),
                        iam.PolicyStatement(
                            sid="EbsEncryptionGrants",
                            actions=["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                            resources=[storage.data_key.key_arn],
                            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                        ),
                    ]
                )
            },
        )

        acknowledge(
            self.service_role, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2]",
            "AmazonEMRServicePolicy_v2 is the service-role policy EMR documents and maintains for the EC2 calls it makes to "
            "build, scale and end clusters; it is tag-scoped (only EC2 resources tagged "
            "for-use-with-amazon-emr-managed-policies=true, which the stack puts on the subnets, security groups and "
            "cluster), and a hand-kept copy would drift from what EMR calls.",
        )

        # --- security configuration ----------------------------------------------
        key_arn = storage.data_key.key_arn
        tls = {"CertificateProviderType": "PEM", "S3Object": tls_zip}
        # No fixed name: a change here replaces the configuration (and the
        # cluster), and CloudFormation creates the new one before deleting the old.
        self.security_configuration = emr.CfnSecurityConfiguration(
            self,
            "SecurityConfiguration",
            security_configuration={
                "EncryptionConfiguration": {
                    "EnableAtRestEncryption": True,
                    "EnableInTransitEncryption": True,
                    "AtRestEncryptionConfiguration": {
                        "S3EncryptionConfiguration": {"EncryptionMode": "SSE-KMS", "AwsKmsKey": key_arn},
                        "LocalDiskEncryptionConfiguration": {
                            "EncryptionKeyProviderType": "AwsKms",
                            "AwsKmsKey": key_arn,
                            "EnableEbsEncryption": True,
                        },
                    },
                    "InTransitEncryptionConfiguration": {"TLSCertificateConfiguration": tls},
                },
                "InstanceMetadataServiceConfiguration": {
                    "MinimumInstanceMetadataServiceVersion": 2,
                    "HttpPutResponseHopLimit": 1,
                },
            },
        )

        # --- the cluster ---------------------------------------------------------
        def group(name: str, count: int, instance_type: str, volume_gb: int) -> emr.CfnCluster.InstanceGroupConfigProperty:
            return emr.CfnCluster.InstanceGroupConfigProperty(
                name=name,
                instance_count=count,
                instance_type=instance_type,
                market="ON_DEMAND",
                ebs_configuration=emr.CfnCluster.EbsConfigurationProperty(
                    ebs_optimized=True,
                    ebs_block_device_configs=[
                        emr.CfnCluster.EbsBlockDeviceConfigProperty(
                            volume_specification=emr.CfnCluster.VolumeSpecificationProperty(size_in_gb=volume_gb, volume_type="gp3"),
                            volumes_per_instance=1,
                        )
                    ],
                ),
            )

        self.cluster = emr.CfnCluster(
            self,
            "Cluster",
            name=config.prefix,
            release_label=config.emr_release_label,
            applications=[emr.CfnCluster.ApplicationProperty(name="Spark")],
            service_role=self.service_role.role_name,
            job_flow_role=self.instance_profile.ref,
            security_configuration=self.security_configuration.ref,
            log_uri=storage.emr_log_uri,
            step_concurrency_level=config.emr_step_concurrency,
            visible_to_all_users=True,
            # Task nodes leave when their YARN containers finish, not mid-task.
            scale_down_behavior="TERMINATE_AT_TASK_COMPLETION",
            instances=emr.CfnCluster.JobFlowInstancesConfigProperty(
                ec2_subnet_id=network.emr_subnet.subnet_id,
                emr_managed_master_security_group=self.primary_sg.security_group_id,
                emr_managed_slave_security_group=self.core_sg.security_group_id,
                service_access_security_group=self.service_sg.security_group_id,
                keep_job_flow_alive_when_no_steps=True,
                termination_protected=False,
                master_instance_group=group("primary", 1, config.emr_primary_instance_type, config.emr_primary_volume_gb),
                core_instance_group=group("core", config.emr_core_instances, config.emr_core_instance_type, config.emr_core_volume_gb),
                # Starts empty; managed scaling grows it (no HDFS on task nodes,
                # so shrinking it loses nothing).
                task_instance_groups=[group("task", 0, config.emr_core_instance_type, config.emr_core_volume_gb)],
            ),
            managed_scaling_policy=emr.CfnCluster.ManagedScalingPolicyProperty(
                compute_limits=emr.CfnCluster.ComputeLimitsProperty(
                    unit_type="Instances",
                    minimum_capacity_units=config.emr_core_instances,
                    maximum_capacity_units=config.emr_max_instances,
                    maximum_core_capacity_units=config.emr_core_instances,
                    maximum_on_demand_capacity_units=config.emr_max_instances,
                )
            ),
            # AmazonEMRServicePolicy_v2 requires the tag on the cluster; EMR
            # propagates it to the instances it launches.
            tags=[CfnTag(key=EMR_MANAGED_TAG[0], value=EMR_MANAGED_TAG[1]), CfnTag(key="project", value=config.prefix)],
        )
        # Create after everything the bootstrap needs and, on deletion,
        # terminate before it goes: the instance role's policy (reached only
        # through the profile), the S3 route, the KMS endpoint for disk
        # encryption. The service role and the profile are Ref'd already.
        self.cluster.node.add_dependency(self.instance_role, network.s3_endpoint, *network.interface_endpoints.values())

        encrypted = (
            "The cluster's security configuration (Emr/SecurityConfiguration) enables it under EncryptionConfiguration, "
            "where EMR reads it: local disks and EBS with the data key, in-transit TLS with the operator's PEM certificates "
            "(tests/infra/test_stack.py checks the document). cdk-nag 3.0 looks for EnableAtRestEncryption / "
            "EnableInTransitEncryption at the top level of the document, where EMR does not read them."
        )
        acknowledge(self.cluster, "AwsSolutions-EMR4", encrypted)
        acknowledge(self.cluster, "AwsSolutions-EMR5", encrypted)
        acknowledge(
            self.cluster, "AwsSolutions-EMR6",
            "No EC2 key pair and no Kerberos on purpose: nobody logs in to the nodes. Work reaches the cluster only as "
            "EMR steps through the EMR API, authorized by IAM (the Dagster policy, scoped to this cluster); the nodes sit "
            "in private subnets with no inbound path from outside the VPC, and their logs go to S3. Kerberos would add a "
            "KDC for interactive users this cluster does not have.",
        )

    @property
    def cluster_arn(self) -> str:
        return Fn.join("", [f"arn:{Aws.PARTITION}:elasticmapreduce:{Aws.REGION}:{Aws.ACCOUNT_ID}:cluster/", self.cluster.ref])
