"""The synthesized AuthPulse stack has the properties the AWS issue asks for.

Universal properties ("every bucket", "no statement") are checked with the
functions in ``checks.py`` over the whole template; specific resources with
``aws_cdk.assertions``. ``test_checks_catch_*`` break a copy of the real
template one way at a time and show each check then reports it.
"""

from __future__ import annotations

import copy
import re

import pytest
from aws_cdk.assertions import Match

from tests.infra import checks

# --- helpers ------------------------------------------------------------------------


def lid(stack, construct) -> str:
    """Logical ID of an L2 construct's CloudFormation resource."""
    return stack.get_logical_id(construct.node.default_child)


@pytest.fixture(scope="module")
def ids(stack) -> dict:
    s = stack
    return {
        "buckets": {name: lid(s, b) for name, b in s.storage.buckets.items()},
        "log_bucket": lid(s, s.storage.logs),
        "data_key": lid(s, s.storage.data_key),
        "alerts_key": lid(s, s.alerting.key),
        "stream": lid(s, s.streaming.stream),
        "topic": lid(s, s.alerting.topic),
        "instance_role": lid(s, s.emr.instance_role),
        "service_role": lid(s, s.emr.service_role),
        "cluster": s.get_logical_id(s.emr.cluster),
        "dagster_policy": lid(s, s.orchestrator.policy),
        "instance_profile": s.get_logical_id(s.emr.instance_profile),
        "security_configuration": s.get_logical_id(s.emr.security_configuration),
        "emr_subnet": lid(s, s.network.emr_subnet),
        "primary_sg": lid(s, s.emr.primary_sg),
        "core_sg": lid(s, s.emr.core_sg),
        "service_sg": lid(s, s.emr.service_sg),
    }


ARN = r"arn:\{AWS::Partition\}:%s:\{AWS::Region\}:\{AWS::AccountId\}:%s"
# Every EMR cluster of the account and region: transient clusters have no id before they start.
EMR_ANY_CLUSTER = ARN % ("elasticmapreduce", r"cluster/\*")


def allowed_resources(ids: dict) -> dict[str, list[str]]:
    """What each AWS service may be granted on: the project's own resources only."""
    arn = ARN
    buckets = "|".join(ids["buckets"].values())
    return {
        "s3": [rf"\{{({buckets})\.Arn\}}(/\*)?",
               # The operator's TLS zip (the one object outside the project's buckets), from the deploy parameter.
               re.escape("arn:{AWS::Partition}:s3:::<{'Fn::Select': [1, {'Fn::Split': ['s3://', {'Ref': 'EmrTlsPemZipUri'}]}]}>")],
        "kms": [rf"\{{({ids['data_key']}|{ids['alerts_key']})\.Arn\}}"],
        "kinesis": [rf"\{{{ids['stream']}\.Arn\}}"],
        "sns": [rf"\{{{ids['topic']}\}}"],
        "glue": [arn % ("glue", "catalog"), arn % ("glue", "database/authpulse"), arn % ("glue", r"table/authpulse/\*")],
        "athena": [arn % ("athena", "workgroup/authpulse")],
        # The platform cluster; transient ones by tag only (checks.untagged_resource_wildcards).
        "elasticmapreduce": [arn % ("elasticmapreduce", rf"cluster/\{{{ids['cluster']}\}}"), EMR_ANY_CLUSTER],
        "iam": [rf"\{{({ids['instance_role']}|{ids['service_role']})\.Arn\}}"],
        "cloudwatch": [],  # resource-less actions only, on "*" (see checks.RESOURCELESS_ACTIONS)
    }


def statements_of(template_json: dict, logical_id: str) -> list[dict]:
    return [st for owner, st in checks.iam_statements(template_json) if owner == logical_id]


# --- encryption, public access, TLS -----------------------------------------------------


def test_four_data_buckets_raw_curated_aggregates_pipes_and_a_log_bucket(template, ids):
    template.resource_count_is("AWS::S3::Bucket", 5)
    assert set(ids["buckets"]) == {"raw", "curated", "aggregates", "pipes"}
    assert ids["log_bucket"] not in ids["buckets"].values()


def test_every_data_bucket_is_kms_encrypted_with_the_data_key(template_json, ids):
    # The log bucket alone is SSE-S3: what both log deliveries (S3 access logs, flow logs) write to
    # without key-policy grants to the log services (storage.py).
    assert checks.buckets_not_kms_encrypted(template_json, {ids["data_key"]}) == [ids["log_bucket"]]
    (log_rule,) = template_json["Resources"][ids["log_bucket"]]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert log_rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    for bucket_id in ids["buckets"].values():
        (rule,) = template_json["Resources"][bucket_id]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["BucketKeyEnabled"] is True  # one KMS data key per bucket, not per object


def test_every_data_bucket_logs_its_requests_to_the_log_bucket(template_json, ids):
    log_bucket = {"Ref": ids["log_bucket"]}
    for name, bucket_id in ids["buckets"].items():
        logging = template_json["Resources"][bucket_id]["Properties"]["LoggingConfiguration"]
        assert logging == {"DestinationBucketName": log_bucket, "LogFilePrefix": f"s3-access/{name}/"}, name
    # Delivered under the log bucket's policy (ACLs are disabled), each source bucket to its own prefix.
    (policy,) = [p for p in checks.resources_of_type(template_json, "AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == log_bucket]
    grants = {checks.skeleton(st["Condition"]["ArnLike"]["aws:SourceArn"]): checks.skeleton(st["Resource"])
              for st in policy["Properties"]["PolicyDocument"]["Statement"]
              if st.get("Principal") == {"Service": "logging.s3.amazonaws.com"}}
    assert grants == {f"{{{b}.Arn}}": f"{{{ids['log_bucket']}.Arn}}/s3-access/{n}/*" for n, b in ids["buckets"].items()}
    rules = template_json["Resources"][ids["log_bucket"]]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert [r["ExpirationInDays"] for r in rules] == [90]


def test_raw_and_pipes_buckets_are_versioned_and_old_versions_expire(template_json, ids):
    for name, bucket_id in ids["buckets"].items():
        props = template_json["Resources"][bucket_id]["Properties"]
        versioned = name in ("raw", "pipes")  # landing files and the archive; not the warehouse or Athena results
        assert props.get("VersioningConfiguration") == ({"Status": "Enabled"} if versioned else None), name
        rules = props["LifecycleConfiguration"]["Rules"]
        noncurrent = [r["NoncurrentVersionExpiration"] for r in rules if "NoncurrentVersionExpiration" in r]
        markers = [r for r in rules if r.get("ExpiredObjectDeleteMarker")]
        assert (noncurrent, len(markers)) == (([{"NoncurrentDays": 30}], 1) if versioned else ([], 0)), name


def test_vpc_flow_logs_go_to_the_log_bucket_which_admits_the_delivery_service(template_json, stack, ids):
    (flow_log,) = checks.resources_of_type(template_json, "AWS::EC2::FlowLog").values()
    props = flow_log["Properties"]
    assert props["ResourceId"] == {"Ref": stack.get_logical_id(stack.network.vpc.node.default_child)}
    assert (props["ResourceType"], props["TrafficType"], props["LogDestinationType"]) == ("VPC", "ALL", "s3")
    assert checks.skeleton(props["LogDestination"]) == f"{{{ids['log_bucket']}.Arn}}/vpc-flow-logs/"
    (policy,) = [p for p in checks.resources_of_type(template_json, "AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": ids["log_bucket"]}]
    delivery = {st["Sid"]: st for st in policy["Properties"]["PolicyDocument"]["Statement"]
                if st.get("Principal") == {"Service": "delivery.logs.amazonaws.com"}}
    assert set(delivery) == {"FlowLogDeliveryWrite", "FlowLogDeliveryAclCheck"}
    write = delivery["FlowLogDeliveryWrite"]
    assert checks.skeleton(write["Resource"]) == f"{{{ids['log_bucket']}.Arn}}/vpc-flow-logs/AWSLogs/{{AWS::AccountId}}/*"
    assert write["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}, "s3:x-amz-acl": "bucket-owner-full-control"}
    for st in delivery.values():
        assert checks.skeleton(st["Condition"]["ArnLike"]["aws:SourceArn"]) == "arn:{AWS::Partition}:logs:{AWS::Region}:{AWS::AccountId}:*"


def test_every_bucket_blocks_public_access_and_acls(template_json):
    assert checks.buckets_with_public_access(template_json) == []
    for res in checks.resources_of_type(template_json, "AWS::S3::Bucket").values():
        assert res["Properties"]["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_every_bucket_policy_is_tls_only(template_json):
    assert checks.buckets_without_tls_only_policy(template_json) == []
    # and TLS 1.2 at least
    for res in checks.resources_of_type(template_json, "AWS::S3::BucketPolicy").values():
        conditions = [st.get("Condition", {}) for st in res["Properties"]["PolicyDocument"]["Statement"] if st["Effect"] == "Deny"]
        assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions


def test_the_stream_is_kms_encrypted_with_24h_retention_and_default_shards(template, template_json, ids):
    assert checks.streams_not_kms_encrypted(template_json, {ids["data_key"]}) == []
    template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "Name": "authpulse-events",
            "ShardCount": 2,
            "RetentionPeriodHours": 24,
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": {"Fn::GetAtt": [ids["data_key"], "Arn"]}},
        },
    )


def test_the_topic_is_kms_encrypted_with_a_key_cloudwatch_may_use(template, template_json, ids):
    assert checks.topics_not_kms_encrypted(template_json, {ids["alerts_key"]}) == []
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                                "Effect": "Allow",
                            }
                        )
                    ]
                )
            },
        },
    )


def test_keys_rotate_and_only_the_account_root_holds_admin(template_json):
    keys = checks.resources_of_type(template_json, "AWS::KMS::Key")
    assert len(keys) == 2
    for res in keys.values():
        assert res["Properties"]["EnableKeyRotation"] is True
        for st in res["Properties"]["KeyPolicy"]["Statement"]:
            if "kms:*" in checks.as_list(st["Action"]):
                # The default key policy: delegates to IAM in this account, nothing wider.
                assert checks.skeleton(st["Principal"]["AWS"]) == "arn:{AWS::Partition}:iam::{AWS::AccountId}:root"


def test_the_topic_refuses_plain_http_and_admits_only_this_stacks_alarms(template_json, ids):
    (policy,) = checks.resources_of_type(template_json, "AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": ids["topic"]}]
    deny, allow = sorted(policy["Properties"]["PolicyDocument"]["Statement"], key=lambda st: st["Effect"], reverse=True)
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "sns:Publish")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # The explicit policy replaces SNS's default one: without this, alarms could not publish.
    assert (allow["Effect"], allow["Principal"], allow["Action"], allow["Resource"]) == (
        "Allow",
        {"Service": "cloudwatch.amazonaws.com"},
        "sns:Publish",
        {"Ref": ids["topic"]},
    )
    pattern = checks.skeleton(allow["Condition"]["ArnLike"]["aws:SourceArn"])
    assert pattern == "arn:{AWS::Partition}:cloudwatch:{AWS::Region}:{AWS::AccountId}:alarm:authpulse-*"
    for alarm in checks.resources_of_type(template_json, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmName"].startswith("authpulse-")  # covered by the pattern


# --- IAM --------------------------------------------------------------------------------


def test_no_statement_grants_star_actions_on_star_resources(template_json):
    assert checks.star_actions_on_star_resources(template_json) == []
    assert checks.wildcard_actions(template_json) == []
    assert checks.unscoped_statements(template_json) == []
    assert checks.untagged_resource_wildcards(template_json, [EMR_ANY_CLUSTER]) == []
    assert checks.pass_role_unscoped(template_json) == []


def test_roles_and_the_dagster_policy_reach_only_project_resources(template_json, ids):
    # There is something to check: both roles and the managed policy have statements.
    for owner in ("instance_role", "service_role", "dagster_policy"):
        assert statements_of(template_json, ids[owner]), owner
    assert checks.foreign_resources(template_json, allowed_resources(ids)) == []


def test_instance_role_has_no_managed_policies_and_reads_raw_only(template_json, ids):
    role = template_json["Resources"][ids["instance_role"]]["Properties"]
    assert "ManagedPolicyArns" not in role
    raw = ids["buckets"]["raw"]
    for st in statements_of(template_json, ids["instance_role"]):
        touches_raw = any(raw in checks.skeleton(r) for r in checks.as_list(st["Resource"]))
        if touches_raw:
            assert set(checks.as_list(st["Action"])) <= {"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"}, st


def test_instance_role_covers_what_the_cluster_does(template_json, ids):
    actions = {a for st in statements_of(template_json, ids["instance_role"]) for a in checks.as_list(st["Action"])}
    assert {"kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"} <= actions  # streaming job
    assert {"glue:GetTable", "glue:CreateTable", "glue:UpdateTable"} <= actions  # pyiceberg GlueCatalog commits
    assert {"s3:PutObject", "s3:GetObject", "s3:DeleteObject"} <= actions  # warehouse, pipes
    assert {"sns:Publish", "cloudwatch:PutMetricData", "kms:Decrypt", "kms:GenerateDataKey"} <= actions
    assert not {"kinesis:PutRecords", "glue:DeleteDatabase", "glue:GetDatabases", "iam:PassRole"} & actions


def test_service_role_uses_the_tag_scoped_v2_policy_and_passes_only_our_instance_role(template_json, ids):
    role = template_json["Resources"][ids["service_role"]]["Properties"]
    assert [checks.skeleton(a) for a in role["ManagedPolicyArns"]] == [
        "arn:{AWS::Partition}:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"
    ]
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "elasticmapreduce.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (pass_role,) = [st for st in statements_of(template_json, ids["service_role"]) if "iam:PassRole" in checks.as_list(st["Action"])]
    assert pass_role["Resource"] == {"Fn::GetAtt": [ids["instance_role"], "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
    (grants,) = [st for st in statements_of(template_json, ids["service_role"]) if "kms:CreateGrant" in checks.as_list(st["Action"])]
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_instance_profile_is_named_like_its_role(template_json, ids):
    # EMR rejects an instance profile whose name differs from its role's.
    (profile,) = checks.resources_of_type(template_json, "AWS::IAM::InstanceProfile").values()
    role = template_json["Resources"][ids["instance_role"]]["Properties"]
    assert profile["Properties"]["InstanceProfileName"] == role["RoleName"]
    assert profile["Properties"]["Roles"] == [{"Ref": ids["instance_role"]}]


# --- network ------------------------------------------------------------------------------


def test_vpc_is_private_only_with_no_internet_path(template, template_json):
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    subnets = checks.resources_of_type(template_json, "AWS::EC2::Subnet")
    assert len(subnets) == 2
    for res in subnets.values():
        assert res["Properties"]["MapPublicIpOnLaunch"] is False
        assert {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"} in res["Properties"]["Tags"]


def test_endpoints_for_s3_kinesis_glue_sns_cloudwatch_logs_and_kms(template_json):
    endpoints = checks.resources_of_type(template_json, "AWS::EC2::VPCEndpoint").values()
    by_service = {checks.skeleton(e["Properties"]["ServiceName"]).rsplit(".", 1)[-1]: e["Properties"] for e in endpoints}
    assert set(by_service) == {"s3", "kinesis-streams", "glue", "sns", "monitoring", "logs", "kms"}
    assert by_service["s3"]["VpcEndpointType"] == "Gateway"
    for name in ("kinesis-streams", "glue", "sns", "monitoring", "logs", "kms"):
        assert by_service[name]["VpcEndpointType"] == "Interface"
        assert by_service[name]["PrivateDnsEnabled"] is True


def test_only_endpoints_accept_traffic_and_only_https_from_the_emr_nodes(template_json, stack, ids):
    inline = [
        rule
        for sg in checks.resources_of_type(template_json, "AWS::EC2::SecurityGroup").values()
        for rule in sg["Properties"].get("SecurityGroupIngress", [])
    ]
    assert inline == []  # no CIDR-wide rule anywhere; EMR adds its own rules at launch
    endpoint_sgs = {stack.get_logical_id(e.connections.security_groups[0].node.default_child) for e in stack.network.interface_endpoints.values()}
    assert len(endpoint_sgs) == 6
    ingress = checks.resources_of_type(template_json, "AWS::EC2::SecurityGroupIngress")
    rules = set()
    for res in ingress.values():
        p = res["Properties"]
        assert (p["IpProtocol"], p["FromPort"], p["ToPort"]) == ("tcp", 443, 443) and "CidrIp" not in p
        rules.add((checks.skeleton(p["GroupId"]), checks.skeleton(p["SourceSecurityGroupId"])))
    assert len(rules) == len(ingress) == 12
    assert rules == {(f"{{{e}.GroupId}}", f"{{{ids[n]}.GroupId}}") for e in endpoint_sgs for n in ("primary_sg", "core_sg")}
    # The nodes reach KMS (disk encryption) while they bootstrap: the cluster waits for the rules.
    (cluster,) = checks.resources_of_type(template_json, "AWS::EMR::Cluster").values()
    assert set(ingress) <= set(cluster["DependsOn"])


# --- EMR ---------------------------------------------------------------------------------------


def test_emr_cluster_release_instances_scaling_and_placement(template, template_json, stack):
    template.has_resource_properties(
        "AWS::EMR::Cluster",
        {
            "ReleaseLabel": "emr-spark-8.1.0",
            "Applications": [{"Name": "Spark"}],
            "StepConcurrencyLevel": 4,
            "Instances": Match.object_like(
                {
                    "Ec2SubnetId": {"Ref": stack.get_logical_id(stack.network.emr_subnet.node.default_child)},
                    "KeepJobFlowAliveWhenNoSteps": True,
                    "MasterInstanceGroup": Match.object_like({"InstanceCount": 1, "InstanceType": "r6i.xlarge"}),
                    "CoreInstanceGroup": Match.object_like({"InstanceCount": 2, "InstanceType": "r6i.2xlarge"}),
                    "ServiceAccessSecurityGroup": Match.any_value(),
                    "EmrManagedMasterSecurityGroup": Match.any_value(),
                    "EmrManagedSlaveSecurityGroup": Match.any_value(),
                }
            ),
            "ManagedScalingPolicy": {
                "ComputeLimits": {
                    "UnitType": "Instances",
                    "MinimumCapacityUnits": 2,
                    "MaximumCapacityUnits": 6,
                    "MaximumCoreCapacityUnits": 2,
                    "MaximumOnDemandCapacityUnits": 6,
                }
            },
            "Tags": Match.array_with([{"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"}]),
        },
    )
    (cluster,) = checks.resources_of_type(template_json, "AWS::EMR::Cluster").values()
    groups = [cluster["Properties"]["Instances"][g] for g in ("MasterInstanceGroup", "CoreInstanceGroup")]
    groups += cluster["Properties"]["Instances"]["TaskInstanceGroups"]
    for g in groups:
        assert g["InstanceType"].startswith("r")  # memory-optimized
        assert g["EbsConfiguration"]["EbsBlockDeviceConfigs"][0]["VolumeSpecification"]["VolumeType"] == "gp3"


def test_emr_cluster_subnet_is_private(template_json, stack):
    subnet_id = stack.get_logical_id(stack.network.emr_subnet.node.default_child)
    subnet = template_json["Resources"][subnet_id]["Properties"]
    assert {"Key": "aws-cdk:subnet-type", "Value": "Isolated"} in subnet["Tags"]


def test_emr_security_configuration_encrypts_at_rest_and_in_transit(template_json, ids):
    (sc,) = checks.resources_of_type(template_json, "AWS::EMR::SecurityConfiguration").values()
    enc = sc["Properties"]["SecurityConfiguration"]["EncryptionConfiguration"]
    key = {"Fn::GetAtt": [ids["data_key"], "Arn"]}
    assert enc["EnableAtRestEncryption"] is True and enc["EnableInTransitEncryption"] is True
    assert enc["AtRestEncryptionConfiguration"]["S3EncryptionConfiguration"] == {"EncryptionMode": "SSE-KMS", "AwsKmsKey": key}
    assert enc["AtRestEncryptionConfiguration"]["LocalDiskEncryptionConfiguration"] == {
        "EncryptionKeyProviderType": "AwsKms",
        "AwsKmsKey": key,
        "EnableEbsEncryption": True,
    }
    # EMR documents two certificate providers, PEM (a zip in S3) and Custom (a jar): "EMR" is neither and fails
    # the stack. The zip is a deploy-time parameter (no default: a deploy without certificates stops before
    # creating anything) in the operator's bucket, readable by the nodes and nothing else.
    tls = enc["InTransitEncryptionConfiguration"]["TLSCertificateConfiguration"]
    assert tls == {"CertificateProviderType": "PEM", "S3Object": {"Ref": "EmrTlsPemZipUri"}}
    param = template_json["Parameters"]["EmrTlsPemZipUri"]
    assert param["Type"] == "String" and "Default" not in param
    import re

    for good in ("s3://my-authpulse-tls/emr-tls.zip", "s3://a.b-c/x/y/certs.zip"):
        assert re.match(param["AllowedPattern"], good)
    for bad in ("my-authpulse-tls/emr-tls.zip", "s3://my-authpulse-tls/emr-tls.tar", "s3://B/emr.zip", "https://x/y.zip"):
        assert not re.match(param["AllowedPattern"], bad)
    imds = sc["Properties"]["SecurityConfiguration"]["InstanceMetadataServiceConfiguration"]
    assert imds["MinimumInstanceMetadataServiceVersion"] == 2


def test_emr_cluster_uses_the_roles_security_configuration_and_pipes_log_uri(template_json, ids):
    (cluster,) = checks.resources_of_type(template_json, "AWS::EMR::Cluster").values()
    props = cluster["Properties"]
    (sc_id,) = checks.resources_of_type(template_json, "AWS::EMR::SecurityConfiguration")
    (profile_id,) = checks.resources_of_type(template_json, "AWS::IAM::InstanceProfile")
    assert props["SecurityConfiguration"] == {"Ref": sc_id}
    assert props["ServiceRole"] == {"Ref": ids["service_role"]}
    assert props["JobFlowRole"] == {"Ref": profile_id}
    assert checks.skeleton(props["LogUri"]) == f"s3://{{{ids['buckets']['pipes']}}}/emr-logs/"
    # Created after its roles and the S3/KMS routes, deleted before them (the
    # service role and the profile through the Refs above).
    assert ids["instance_role"] in cluster["DependsOn"]
    endpoint_ids = set(checks.resources_of_type(template_json, "AWS::EC2::VPCEndpoint"))
    assert endpoint_ids <= set(cluster["DependsOn"])


def test_emr_security_groups_carry_the_managed_policy_tag(template_json, stack):
    for sg in (stack.emr.primary_sg, stack.emr.core_sg, stack.emr.service_sg):
        props = template_json["Resources"][stack.get_logical_id(sg.node.default_child)]["Properties"]
        assert {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"} in props["Tags"]


# --- catalog, Athena -------------------------------------------------------------------------------


def test_glue_database_is_the_iceberg_namespace_under_the_warehouse(template_json, ids):
    (db,) = checks.resources_of_type(template_json, "AWS::Glue::Database").values()
    assert db["Properties"]["DatabaseInput"]["Name"] == "authpulse"
    assert checks.skeleton(db["Properties"]["DatabaseInput"]["LocationUri"]) == f"s3://{{{ids['buckets']['curated']}}}/warehouse/authpulse.db"
    assert db["DeletionPolicy"] == "Retain"


def test_athena_workgroup_results_are_encrypted_and_enforced(template_json, ids):
    (wg,) = checks.resources_of_type(template_json, "AWS::Athena::WorkGroup").values()
    conf = wg["Properties"]["WorkGroupConfiguration"]
    assert conf["EnforceWorkGroupConfiguration"] is True
    assert conf["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}
    assert conf["BytesScannedCutoffPerQuery"] == 100 * 1024**3
    result = conf["ResultConfiguration"]
    assert result["EncryptionConfiguration"] == {"EncryptionOption": "SSE_KMS", "KmsKey": {"Fn::GetAtt": [ids["data_key"], "Arn"]}}
    assert checks.skeleton(result["OutputLocation"]) == f"s3://{{{ids['buckets']['aggregates']}}}/athena-results/"


# --- lifecycle ------------------------------------------------------------------------------------


def test_lifecycle_tiers_every_bucket_and_expires_raw_after_90_days(template_json, ids):
    for name, bucket_id in ids["buckets"].items():
        rules = template_json["Resources"][bucket_id]["Properties"]["LifecycleConfiguration"]["Rules"]
        whole_bucket = [r for r in rules if "Prefix" not in r and not r.get("ExpiredObjectDeleteMarker")]
        assert len(whole_bucket) == 1, name
        assert whole_bucket[0]["Transitions"] == [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0}], name
        assert whole_bucket[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}, name
        expires = whole_bucket[0].get("ExpirationInDays")
        assert expires == (90 if name == "raw" else None), name  # only raw data expires as a whole
    aggregates = template_json["Resources"][ids["buckets"]["aggregates"]]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {"Prefix": "athena-results/", "ExpirationInDays": 30} in [
        {k: r[k] for k in ("Prefix", "ExpirationInDays")} for r in aggregates if "Prefix" in r
    ]


def test_data_survives_stack_deletion_by_default(template_json, ids):
    for bucket_id in ids["buckets"].values():
        assert template_json["Resources"][bucket_id]["DeletionPolicy"] == "Retain"
    assert template_json["Resources"][ids["data_key"]]["DeletionPolicy"] == "Retain"


# --- alarms ------------------------------------------------------------------------------------------


def test_alarms_point_at_the_topic(template_json, ids):
    alarms = checks.resources_of_type(template_json, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 2
    assert checks.alarms_not_on_topic(template_json, ids["topic"]) == []


def test_iterator_age_alarm_watches_the_stream_at_half_retention(template, ids):
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Kinesis",
            "MetricName": "GetRecords.IteratorAgeMilliseconds",
            "Dimensions": [{"Name": "StreamName", "Value": {"Ref": ids["stream"]}}],
            "Statistic": "Maximum",
            "Threshold": 12 * 3600 * 1000,
            "ComparisonOperator": "GreaterThanThreshold",
            # Kinesis publishes the age on every GetRecords, empty ones included: no datapoint = nobody reads.
            "TreatMissingData": "breaching",
        },
    )


def test_batch_duration_alarm_watches_the_jobs_own_metric(template, ids):
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AuthPulse",
            "MetricName": "BatchDuration",
            "Dimensions": [{"Name": "StreamName", "Value": {"Ref": ids["stream"]}}],
            "Unit": "Milliseconds",
            "Statistic": "Maximum",
            "Threshold": 300_000,
            "TreatMissingData": "notBreaching",  # Spark runs no batch on an idle stream: silence is not a fault
        },
    )


def test_batch_duration_alarm_matches_what_the_streaming_job_publishes(template_json):
    """Contract with authpulse_dagster/live/metrics.py: same namespace, name, unit
    and dimension, or the alarm would watch a metric nobody sends."""
    from authpulse_dagster.live.metrics import BatchMetrics, publish
    from authpulse_dagster.settings import Settings

    sent = {}

    class Recorder:
        def put_metric_data(self, **kwargs):
            sent.update(kwargs)

    assert publish(Settings.from_env({}), "authpulse-events", BatchMetrics(10, 0, 0, 1.5, 0, 0), client=Recorder())
    (alarm,) = [a for a in checks.resources_of_type(template_json, "AWS::CloudWatch::Alarm").values() if a["Properties"]["MetricName"] == "BatchDuration"]
    props = alarm["Properties"]
    (datum,) = [d for d in sent["MetricData"] if d["MetricName"] == props["MetricName"]]
    assert sent["Namespace"] == props["Namespace"]
    assert datum["Unit"] == props["Unit"]
    assert [d["Name"] for d in datum["Dimensions"]] == [d["Name"] for d in props["Dimensions"]]
    assert datum["Value"] == 1500.0  # seconds published as milliseconds, the alarm's unit


# --- outputs ------------------------------------------------------------------------------------------


def test_outputs_give_every_runtime_variable(template_json, ids):
    from authpulse_infra.outputs import RUNTIME_ENV_VARS, output_key

    outputs = template_json["Outputs"]
    for name in RUNTIME_ENV_VARS:
        assert output_key(name) in outputs, name
        assert outputs[output_key(name)]["Description"].startswith(name)
    value = {name: checks.skeleton(outputs[output_key(name)]["Value"]) for name in RUNTIME_ENV_VARS}
    b = ids["buckets"]
    assert value == {
        "AWS_REGION": "{AWS::Region}",
        "AUTHPULSE_WAREHOUSE_URI": f"s3://{{{b['curated']}}}/warehouse",
        "AUTHPULSE_RAW_URI": f"s3://{{{b['raw']}}}/raw",
        "AUTHPULSE_GLUE_DATABASE": "authpulse",
        "AUTHPULSE_STREAM": f"{{{ids['stream']}}}",
        "AUTHPULSE_ALERT_TOPIC_ARN": f"{{{ids['topic']}}}",
        "AUTHPULSE_METRICS_NAMESPACE": "AuthPulse",
        "AUTHPULSE_EMR_CLUSTER_ID": f"{{{ids['cluster']}}}",
        "AUTHPULSE_PIPES_BUCKET": f"{{{b['pipes']}}}",
        "AUTHPULSE_EMR_ARTIFACTS_URI": f"s3://{{{b['pipes']}}}/artifacts",
        "AUTHPULSE_ATHENA_WORKGROUP": "authpulse",
        "AUTHPULSE_ATHENA_OUTPUT": f"s3://{{{b['aggregates']}}}/athena-results/",
        # What a transient cluster is built with: the platform cluster's own release, roles, subnet,
        # security groups and security configuration.
        "AUTHPULSE_EMR_RELEASE_LABEL": "emr-spark-8.1.0",
        "AUTHPULSE_EMR_SERVICE_ROLE": f"{{{ids['service_role']}}}",
        "AUTHPULSE_EMR_INSTANCE_PROFILE": f"{{{ids['instance_profile']}}}",
        "AUTHPULSE_EMR_SUBNET_ID": f"{{{ids['emr_subnet']}}}",
        "AUTHPULSE_EMR_SECURITY_CONFIGURATION": f"{{{ids['security_configuration']}}}",
        "AUTHPULSE_EMR_PRIMARY_SG": f"{{{ids['primary_sg']}.GroupId}}",
        "AUTHPULSE_EMR_CORE_SG": f"{{{ids['core_sg']}.GroupId}}",
        "AUTHPULSE_EMR_SERVICE_ACCESS_SG": f"{{{ids['service_sg']}.GroupId}}",
    }
    assert checks.skeleton(outputs["DagsterPolicyArn"]["Value"]) == f"{{{ids['dagster_policy']}}}"


# --- the checks themselves can fail ---------------------------------------------------------------------


def _first(template_json: dict, type_: str) -> dict:
    return next(iter(checks.resources_of_type(template_json, type_).values()))


def _data_buckets_not_kms_encrypted(t: dict, ids: dict) -> list[str]:
    return [b for b in checks.buckets_not_kms_encrypted(t, {ids["data_key"]}) if b != ids["log_bucket"]]


def _add_to_dagster_policy(statement: dict):
    def mutate(t: dict, ids: dict) -> None:
        t["Resources"][ids["dagster_policy"]]["Properties"]["PolicyDocument"]["Statement"].append(statement)

    return mutate


def _add_to_instance_role(statement: dict):
    def mutate(t: dict, ids: dict) -> None:
        t["Resources"][ids["instance_role"]]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(statement)

    return mutate


BREAKAGES = {
    "bucket without encryption": (
        lambda t, ids: t["Resources"][ids["buckets"]["curated"]]["Properties"].pop("BucketEncryption"),
        lambda t, ids: _data_buckets_not_kms_encrypted(t, ids),
    ),
    "bucket with S3-managed keys": (
        lambda t, ids: t["Resources"][ids["buckets"]["raw"]]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"].update(SSEAlgorithm="AES256"),
        lambda t, ids: _data_buckets_not_kms_encrypted(t, ids),
    ),
    "bucket with a public policy allowed": (
        lambda t, ids: t["Resources"][ids["buckets"]["aggregates"]]["Properties"]["PublicAccessBlockConfiguration"].update(BlockPublicPolicy=False),
        lambda t, ids: checks.buckets_with_public_access(t),
    ),
    "bucket policy without the TLS rule": (
        lambda t, ids: [
            p["Properties"]["PolicyDocument"].update(Statement=[])
            for p in checks.resources_of_type(t, "AWS::S3::BucketPolicy").values()
            if p["Properties"]["Bucket"] == {"Ref": ids["buckets"]["pipes"]}
        ],
        lambda t, ids: checks.buckets_without_tls_only_policy(t),
    ),
    "stream without encryption": (
        lambda t, ids: t["Resources"][ids["stream"]]["Properties"].pop("StreamEncryption"),
        lambda t, ids: checks.streams_not_kms_encrypted(t, {ids["data_key"]}),
    ),
    "topic without a key": (
        lambda t, ids: t["Resources"][ids["topic"]]["Properties"].pop("KmsMasterKeyId"),
        lambda t, ids: checks.topics_not_kms_encrypted(t, {ids["alerts_key"]}),
    ),
    "admin statement": (
        _add_to_instance_role({"Effect": "Allow", "Action": "*", "Resource": "*"}),
        lambda t, ids: checks.star_actions_on_star_resources(t),
    ),
    "service wildcard on everything": (
        _add_to_instance_role({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
        lambda t, ids: checks.star_actions_on_star_resources(t),
    ),
    "specific action on every resource": (
        _add_to_instance_role({"Effect": "Allow", "Action": "kinesis:GetRecords", "Resource": "*"}),
        lambda t, ids: checks.unscoped_statements(t),
    ),
    "metrics in any namespace": (
        _add_to_instance_role({"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}),
        lambda t, ids: checks.unscoped_statements(t),
    ),
    "someone else's bucket": (
        _add_to_instance_role({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::someone-elses-bucket/*"}),
        lambda t, ids: checks.foreign_resources(t, allowed_resources(ids)),
    ),
    "another stream": (
        _add_to_instance_role(
            {"Effect": "Allow", "Action": "kinesis:GetRecords", "Resource": "arn:aws:kinesis:us-east-1:123456789012:stream/other"}
        ),
        lambda t, ids: checks.foreign_resources(t, allowed_resources(ids)),
    ),
    "another topic": (
        _add_to_instance_role({"Effect": "Allow", "Action": "sns:Publish", "Resource": "arn:aws:sns:us-east-1:123456789012:other"}),
        lambda t, ids: checks.foreign_resources(t, allowed_resources(ids)),
    ),
    "an unexpected service": (
        _add_to_instance_role({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/x"}),
        lambda t, ids: checks.foreign_resources(t, allowed_resources(ids)),
    ),
    "clusters launched without the tag": (
        _add_to_dagster_policy({"Effect": "Allow", "Action": "elasticmapreduce:RunJobFlow", "Resource": "*"}),
        lambda t, ids: checks.unscoped_statements(t),
    ),
    "every cluster of the account terminable": (
        _add_to_dagster_policy({"Effect": "Allow", "Action": "elasticmapreduce:TerminateJobFlows", "Resource": {
            "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":elasticmapreduce:", {"Ref": "AWS::Region"}, ":",
                              {"Ref": "AWS::AccountId"}, ":cluster/*"]]}}),
        lambda t, ids: checks.untagged_resource_wildcards(t, [EMR_ANY_CLUSTER]),
    ),
    "passing any role": (
        _add_to_dagster_policy({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/*",
                                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}),
        lambda t, ids: checks.pass_role_unscoped(t),
    ),
    "passing a role to any service": (
        lambda t, ids: [st.pop("Condition") for st in t["Resources"][ids["dagster_policy"]]["Properties"]["PolicyDocument"]["Statement"]
                        if st.get("Sid") == "PassEmrServiceRole"],
        lambda t, ids: checks.pass_role_unscoped(t),
    ),
    "passing another role": (
        _add_to_dagster_policy({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/admin",
                                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}),
        lambda t, ids: checks.foreign_resources(t, allowed_resources(ids)),
    ),
    "alarm on another topic": (
        lambda t, ids: _first(t, "AWS::CloudWatch::Alarm")["Properties"].update(AlarmActions=["arn:aws:sns:us-east-1:123456789012:other"]),
        lambda t, ids: checks.alarms_not_on_topic(t, ids["topic"]),
    ),
    "alarm that never says it cleared": (
        lambda t, ids: _first(t, "AWS::CloudWatch::Alarm")["Properties"].pop("OKActions"),
        lambda t, ids: checks.alarms_not_on_topic(t, ids["topic"]),
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_checks_catch(breakage, template_json, ids):
    mutate, check = BREAKAGES[breakage]
    assert check(template_json, ids) == [], "the real template must pass before it is broken"
    broken = copy.deepcopy(template_json)
    mutate(broken, ids)
    assert check(broken, ids), f"{breakage} was not caught"


def test_dagster_policy_allows_every_kinesis_call_of_the_stall_check(template_json, ids, monkeypatch):
    """The streaming-health sensor's stall check, run against a Stubber with Kinesis' real API shapes:
    every operation it makes must be an action the Dagster policy grants on the stream (without
    GetShardIterator/GetRecords it met AccessDenied on every tick)."""
    from datetime import datetime, timezone

    import boto3
    from botocore.stub import Stubber

    from authpulse_dagster.sensors import streaming_health
    from authpulse_dagster.settings import Settings

    client = boto3.client("kinesis", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    called: list[str] = []
    client.meta.events.register("before-parameter-build.kinesis.*", lambda model, **_: called.append(model.name))
    stub = Stubber(client)
    shard = {"ShardId": "shardId-000000000000", "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": "1"},
             "SequenceNumberRange": {"StartingSequenceNumber": "1"}}
    stub.add_response("list_shards", {"Shards": [shard]})
    stub.add_response("get_shard_iterator", {"ShardIterator": "AAAA" * 8})
    stub.add_response("get_records", {"Records": [], "MillisBehindLatest": 5, "NextShardIterator": "BBBB" * 8})
    monkeypatch.setattr(streaming_health, "aws_client", lambda service, settings=None, **kw: client)
    with stub:
        assert streaming_health.records_waiting_since(Settings.from_env({}), datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert called == ["ListShards", "GetShardIterator", "GetRecords"]
    stream_arn = {"Fn::GetAtt": [ids["stream"], "Arn"]}
    granted = {a for st in statements_of(template_json, ids["dagster_policy"]) if stream_arn in checks.as_list(st.get("Resource"))
               for a in checks.as_list(st["Action"])}
    assert {f"kinesis:{op}" for op in called} <= granted, sorted({f"kinesis:{op}" for op in called} - granted)


# --- transient clusters (AUTHPULSE_EMR_TRANSIENT=1) ----------------------------------------------------


def _allowed(statements: list[dict], action: str, resource: str, context: dict[str, str]) -> bool:
    """Whether an Allow statement grants ``action`` on ``resource`` (a ``checks.skeleton``) given the
    request's condition keys; only StringEquals conditions are understood (anything else: no match)."""
    import fnmatch

    for st in statements:
        if st.get("Effect") != "Allow" or action not in checks.as_list(st["Action"]):
            continue
        if not any(fnmatch.fnmatchcase(resource, checks.skeleton(r)) for r in checks.as_list(st["Resource"])):
            continue
        conditions = st.get("Condition", {})
        if set(conditions) <= {"StringEquals"} and all(context.get(k) == v for k, v in conditions.get("StringEquals", {}).items()):
            return True
    return False


def test_dagster_policy_runs_watches_and_ends_a_transient_cluster_built_from_the_outputs(template_json, ids):
    """The whole transient path offline: the stack's outputs become the environment
    (env_from_outputs), settings.py reads it, step_runner builds the RunJobFlow request (checked
    against EMR's real input shape by the Stubber), the transient client polls the cluster and,
    when its wait fails, terminates it; every call and every role it passes must be granted by the
    Dagster policy. Before, the policy had no RunJobFlow, TerminateJobFlows or iam:PassRole, and
    the stack output none of the roles, profile, subnet or security configuration."""
    import boto3
    from botocore.stub import Stubber

    from authpulse_dagster.aws_emr.pipes_clients import PrefixedS3MessageReader, TransientPipesEMRClient
    from authpulse_dagster.aws_emr.step_runner import transient_cluster_params
    from authpulse_dagster.settings import Settings
    from authpulse_infra.outputs import env_from_outputs
    from tests.infra.test_env_from_outputs import SAMPLE

    # Which resource each sample output value stands for in this template.
    stands_for = {SAMPLE[key]: checks.skeleton(out["Value"]) for key, out in template_json["Outputs"].items() if key in SAMPLE}
    settings = Settings.from_env({"AUTHPULSE_ENV": "aws", "AUTHPULSE_EMR_TRANSIENT": "1", **env_from_outputs(SAMPLE)})
    step = {"Name": "authpulse bronze", "ActionOnFailure": "TERMINATE_CLUSTER",
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", "x.py"]}}
    params = transient_cluster_params(settings, "authpulse bronze 2024-01-02", step)

    # Built like the platform cluster, from the stack's own resources.
    instances = params["Instances"]
    assert stands_for[params["ServiceRole"]] == f"{{{ids['service_role']}}}"
    assert stands_for[params["JobFlowRole"]] == f"{{{ids['instance_profile']}}}"
    assert stands_for[params["SecurityConfiguration"]] == f"{{{ids['security_configuration']}}}"
    assert stands_for[instances["Ec2SubnetId"]] == f"{{{ids['emr_subnet']}}}"
    assert [stands_for[instances[k]] for k in ("EmrManagedMasterSecurityGroup", "EmrManagedSlaveSecurityGroup", "ServiceAccessSecurityGroup")] == [
        f"{{{ids[n]}.GroupId}}" for n in ("primary_sg", "core_sg", "service_sg")]
    assert params["ReleaseLabel"] == template_json["Resources"][ids["cluster"]]["Properties"]["ReleaseLabel"]

    # The calls the transient path makes, recorded on a client with EMR's real API shapes.
    client = boto3.client("emr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    called: list[str] = []
    client.meta.events.register("before-parameter-build.emr.*", lambda model, **_: called.append(model.name))
    stub = Stubber(client)
    cluster_id = "j-1ABCDEFGHIJK"
    stub.add_response("run_job_flow", {"JobFlowId": cluster_id}, params)
    stub.add_response("describe_cluster", {"Cluster": {"Id": cluster_id, "Name": "x", "Status": {"State": "TERMINATED"}}})
    done = {"Steps": [{"Id": "s-1", "Name": step["Name"], "Status": {"State": "COMPLETED"}}]}
    stub.add_response("list_steps", done)
    stub.add_response("list_steps", done)
    stub.add_client_error("describe_cluster", service_error_code="ThrottlingException", http_status_code=400)
    stub.add_response("terminate_job_flows", {}, {"JobFlowIds": [cluster_id]})
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    pipes = TransientPipesEMRClient(client=client, message_reader=PrefixedS3MessageReader(bucket="b", client=s3),
                                    poll_seconds=0, sleep=lambda _: None)

    class Log:
        def info(self, _): ...
        def warning(self, _): ...

    class Context:
        log = Log()

    with stub:
        response = client.run_job_flow(**params)
        pipes._wait_for_completion(Context(), response)  # the cluster ran its step and ended
        with pytest.raises(Exception, match="Throttling"):
            pipes._wait_for_completion(Context(), response)  # the wait failed: the cluster is terminated
    assert called == ["RunJobFlow", "DescribeCluster", "ListSteps", "ListSteps", "DescribeCluster", "TerminateJobFlows"]

    policy = statements_of(template_json, ids["dagster_policy"])
    request_tags = {f"aws:RequestTag/{t['Key']}": t["Value"] for t in params["Tags"]}
    resource_tags = {f"aws:ResourceTag/{t['Key']}": t["Value"] for t in params["Tags"]}
    cluster_arn = f"arn:{{AWS::Partition}}:elasticmapreduce:{{AWS::Region}}:{{AWS::AccountId}}:cluster/{cluster_id}"
    assert _allowed(policy, "elasticmapreduce:RunJobFlow", "*", request_tags)
    for op in sorted(set(called) - {"RunJobFlow"}):
        assert _allowed(policy, f"elasticmapreduce:{op}", cluster_arn, resource_tags), op
    # The two roles the request names, each only to the service that assumes it.
    service_role_arn = stands_for[params["ServiceRole"]].rstrip("}") + ".Arn}"
    (profile,) = checks.resources_of_type(template_json, "AWS::IAM::InstanceProfile").values()
    (instance_role,) = profile["Properties"]["Roles"]
    instance_role_arn = f"{{{instance_role['Ref']}.Arn}}"
    assert _allowed(policy, "iam:PassRole", service_role_arn, {"iam:PassedToService": "elasticmapreduce.amazonaws.com"})
    assert _allowed(policy, "iam:PassRole", instance_role_arn, {"iam:PassedToService": "ec2.amazonaws.com"})

    # And no further: untagged launches, other clusters, the roles to other services, other roles.
    untagged = {k: v for k, v in request_tags.items() if k != "aws:RequestTag/authpulse:component"}
    assert not _allowed(policy, "elasticmapreduce:RunJobFlow", "*", untagged)
    assert not _allowed(policy, "elasticmapreduce:TerminateJobFlows", cluster_arn, {})
    assert not _allowed(policy, "iam:PassRole", service_role_arn, {"iam:PassedToService": "ec2.amazonaws.com"})
    assert not _allowed(policy, "iam:PassRole", instance_role_arn, {"iam:PassedToService": "elasticmapreduce.amazonaws.com"})
    assert not _allowed(policy, "iam:PassRole", "arn:aws:iam::123456789012:role/admin", {"iam:PassedToService": "ec2.amazonaws.com"})
