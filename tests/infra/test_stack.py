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
        "data_key": lid(s, s.storage.data_key),
        "alerts_key": lid(s, s.alerting.key),
        "stream": lid(s, s.streaming.stream),
        "topic": lid(s, s.alerting.topic),
        "instance_role": lid(s, s.emr.instance_role),
        "service_role": lid(s, s.emr.service_role),
        "cluster": s.get_logical_id(s.emr.cluster),
        "dagster_policy": lid(s, s.orchestrator.policy),
    }


def allowed_resources(ids: dict) -> dict[str, list[str]]:
    """What each AWS service may be granted on: the project's own resources only."""
    arn = r"arn:\{AWS::Partition\}:%s:\{AWS::Region\}:\{AWS::AccountId\}:%s"
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
        "elasticmapreduce": [arn % ("elasticmapreduce", rf"cluster/\{{{ids['cluster']}\}}")],
        "iam": [rf"\{{{ids['instance_role']}\.Arn\}}"],
        "cloudwatch": [],  # resource-less actions only, on "*" (see checks.RESOURCELESS_ACTIONS)
    }


def statements_of(template_json: dict, logical_id: str) -> list[dict]:
    return [st for owner, st in checks.iam_statements(template_json) if owner == logical_id]


# --- encryption, public access, TLS -----------------------------------------------------


def test_four_buckets_raw_curated_aggregates_pipes(template, ids):
    template.resource_count_is("AWS::S3::Bucket", 4)
    assert set(ids["buckets"]) == {"raw", "curated", "aggregates", "pipes"}


def test_every_bucket_is_kms_encrypted_with_the_data_key(template_json, ids):
    assert checks.buckets_not_kms_encrypted(template_json, {ids["data_key"]}) == []
    for res in checks.resources_of_type(template_json, "AWS::S3::Bucket").values():
        (rule,) = res["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["BucketKeyEnabled"] is True  # one KMS data key per bucket, not per object


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


def test_only_endpoints_accept_traffic_and_only_https_from_the_vpc(template_json, stack):
    vpc_cidr = {"Fn::GetAtt": [stack.get_logical_id(stack.network.vpc.node.default_child), "CidrBlock"]}
    rules = [
        rule
        for sg in checks.resources_of_type(template_json, "AWS::EC2::SecurityGroup").values()
        for rule in sg["Properties"].get("SecurityGroupIngress", [])
    ]
    assert len(rules) == 6  # one per interface endpoint; EMR adds its own rules at launch
    for rule in rules:
        assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"], rule["CidrIp"]) == ("tcp", 443, 443, vpc_cidr)
    template_ingress = checks.resources_of_type(template_json, "AWS::EC2::SecurityGroupIngress")
    assert template_ingress == {}


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
        whole_bucket = [r for r in rules if "Prefix" not in r]
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
    }
    assert checks.skeleton(outputs["DagsterPolicyArn"]["Value"]) == f"{{{ids['dagster_policy']}}}"


# --- the checks themselves can fail ---------------------------------------------------------------------


def _first(template_json: dict, type_: str) -> dict:
    return next(iter(checks.resources_of_type(template_json, type_).values()))


def _add_to_instance_role(statement: dict):
    def mutate(t: dict, ids: dict) -> None:
        t["Resources"][ids["instance_role"]]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(statement)

    return mutate


BREAKAGES = {
    "bucket without encryption": (
        lambda t, ids: t["Resources"][ids["buckets"]["curated"]]["Properties"].pop("BucketEncryption"),
        lambda t, ids: checks.buckets_not_kms_encrypted(t, {ids["data_key"]}),
    ),
    "bucket with S3-managed keys": (
        lambda t, ids: t["Resources"][ids["buckets"]["raw"]]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"].update(SSEAlgorithm="AES256"),
        lambda t, ids: checks.buckets_not_kms_encrypted(t, {ids["data_key"]}),
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
