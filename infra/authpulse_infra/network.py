"""The VPC: private subnets only, AWS services reached through VPC endpoints.

Nothing in AuthPulse needs to be reachable from the internet, and nothing it
runs needs the internet: Python dependencies travel inside the project archive
on S3 and every AWS API it calls has an endpoint here. So by default there is
no internet gateway and no NAT (no NAT bill, no egress path for data), and the
EMR cluster gets its S3 through the free gateway endpoint.

Flow logs (all traffic, accepted and rejected) go to the log bucket: the record
of which address talked to which, for an investigation of the cluster's
traffic. The interface endpoints take HTTPS only from the EMR nodes' security
groups (authpulse_infra/emr.py adds those rules), not from the whole VPC.
"""

from __future__ import annotations

from aws_cdk import Aws, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from authpulse_infra.config import InfraConfig
from authpulse_infra.storage import FLOW_LOGS_PREFIX

# AmazonEMRServicePolicy_v2 only lets EMR launch instances into subnets and
# security groups that carry this tag (the v2 policy's tag-scoped statements).
EMR_MANAGED_TAG = ("for-use-with-amazon-emr-managed-policies", "true")

# Interface endpoints, one per AWS API the cluster calls from the private
# subnets: the stream (Kinesis), the Iceberg catalog (Glue), alerts (SNS),
# metrics (CloudWatch), logs (CloudWatch Logs) and KMS, which EMR's local-disk
# encryption calls from the nodes themselves (S3 and Kinesis call KMS
# server-side and need no endpoint for that).
INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "Kinesis": ec2.InterfaceVpcEndpointAwsService.KINESIS_STREAMS,
    "Glue": ec2.InterfaceVpcEndpointAwsService.GLUE,
    "Sns": ec2.InterfaceVpcEndpointAwsService.SNS,
    "CloudWatch": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
}


class Network(Construct):
    def __init__(self, scope: Construct, id: str, *, config: InfraConfig, flow_log_bucket: s3.IBucket) -> None:
        super().__init__(scope, id)
        private_type = ec2.SubnetType.PRIVATE_WITH_EGRESS if config.nat_gateways else ec2.SubnetType.PRIVATE_ISOLATED
        subnets = [ec2.SubnetConfiguration(name="private", subnet_type=private_type, cidr_mask=20)]
        if config.nat_gateways:
            # Only to host the NAT gateways; nothing of ours is placed here.
            subnets.append(ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24, map_public_ip_on_launch=False))

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            max_azs=config.max_azs,
            nat_gateways=config.nat_gateways,
            subnet_configuration=subnets,
            enable_dns_hostnames=True,  # private DNS of interface endpoints needs both
            enable_dns_support=True,
            # Every resource here has its own security group; the default one
            # is unused. Restricting it would add a Lambda-backed custom resource.
            restrict_default_security_group=False,
        )
        # To S3, not CloudWatch Logs: no delivery role to pass, and half the ingestion price.
        self.flow_log = self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_s3(flow_log_bucket, FLOW_LOGS_PREFIX),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        # The log-delivery service's grant, written into the bucket policy the stack owns. EC2
        # would otherwise append it to the policy itself on creation, and the next stack update
        # of that policy would drop it again: flow logs would stop without an error.
        delivery = iam.ServicePrincipal("delivery.logs.amazonaws.com")
        source = {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                  "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"}}
        flow_log_bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="FlowLogDeliveryWrite", principals=[delivery], actions=["s3:PutObject"],
            resources=[flow_log_bucket.arn_for_objects(f"{FLOW_LOGS_PREFIX}AWSLogs/{Aws.ACCOUNT_ID}/*")],
            conditions={**source, "StringEquals": {**source["StringEquals"], "s3:x-amz-acl": "bucket-owner-full-control"}},
        ))
        flow_log_bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="FlowLogDeliveryAclCheck", principals=[delivery], actions=["s3:GetBucketAcl"],
            resources=[flow_log_bucket.bucket_arn], conditions=source,
        ))
        self.private_subnets = self.vpc.select_subnets(subnet_type=private_type)
        # EMR with instance groups runs in one subnet; the first private one.
        self.emr_subnet = self.private_subnets.subnets[0]
        for subnet in self.private_subnets.subnets:
            Tags.of(subnet).add(*EMR_MANAGED_TAG)

        # Gateway endpoint: free, and the only route to S3 (data, EMR's own
        # repository and instance-data buckets). No endpoint policy narrowing it
        # to our buckets: EMR must also reach the AWS-owned repository buckets,
        # whose names vary by release; access to our data is governed by IAM and
        # bucket policies instead.
        self.s3_endpoint = self.vpc.add_gateway_endpoint(
            "S3Endpoint",
            service=ec2.GatewayVpcEndpointAwsService.S3,
            subnets=[ec2.SubnetSelection(subnet_type=private_type)],
        )

        # Interface endpoints cost per AZ-hour, so they live in the cluster's
        # subnet only: the cluster is in one AZ anyway, and private DNS makes
        # them reachable from the other subnets too.
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        for name, service in INTERFACE_ENDPOINTS.items():
            self.interface_endpoints[name] = self.vpc.add_interface_endpoint(
                f"{name}Endpoint",
                service=service,
                private_dns_enabled=True,
                subnets=ec2.SubnetSelection(subnets=[self.emr_subnet]),
                open=False,  # 443 from the EMR nodes' security groups only (emr.py)
            )
