"""The SOC API's part of the stack: HTTP API + Lambda + DynamoDB, least privilege, throttling (cdk-nag: test_nag.py)."""

from __future__ import annotations

import pytest

from aws_cdk.assertions import Match

from tests.infra import checks

ON = {"soc_api": "on"}  # the API is opt-in in the stack for now (see stack.py)


@pytest.fixture(scope="module")
def api_synth():
    from aws_cdk.assertions import Template

    from authpulse_infra import build_app

    _, stack = build_app(context=ON)
    return stack, Template.from_stack(stack)


@pytest.fixture(scope="module")
def stack(api_synth):
    return api_synth[0]


@pytest.fixture(scope="module")
def template(api_synth):
    return api_synth[1]


@pytest.fixture(scope="module")
def template_json(template):
    return template.to_json()


def test_table_is_kms_encrypted_with_point_in_time_recovery_and_the_code_s_keys(template, stack):
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "TableName": "authpulse-api",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": Match.any_value()},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "GlobalSecondaryIndexes": [Match.object_like({"IndexName": "kind-index"})],
    })
    from authpulse_dagster.api.store import KIND_INDEX, table_definition

    definition = table_definition("authpulse-api")
    assert KIND_INDEX == "kind-index" and [k["AttributeName"] for k in definition["KeySchema"]] == ["pk", "sk"]


def test_http_api_stage_throttles_and_logs_and_lambda_runs_in_aws_mode(template):
    template.has_resource_properties("AWS::ApiGatewayV2::Api", {"ProtocolType": "HTTP"})
    template.has_resource_properties("AWS::ApiGatewayV2::Stage", {
        "StageName": "$default",
        "DefaultRouteSettings": {"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100},
        "AccessLogSettings": Match.object_like({"DestinationArn": Match.any_value()}),
    })
    template.has_resource_properties("AWS::Lambda::Function", {
        "PackageType": "Image",
        "Environment": {"Variables": Match.object_like({"AUTHPULSE_ENV": "aws", "AUTHPULSE_API_TABLE": Match.any_value(),
                                                         "AUTHPULSE_TRIAGE_URI": Match.any_value()})},
    })
    template.has_resource_properties("AWS::Glue::Table", {"TableInput": Match.object_like({"Name": "alert_triage"})})


def test_function_role_is_least_privilege(template_json, stack):
    role = stack.get_logical_id(stack.api.role.node.default_child)
    statements = [st for lid, st in checks.iam_statements(template_json) if lid == stack.get_logical_id(stack.api.policy.node.default_child)]
    actions = {a for st in statements for a in checks.as_list(st["Action"])}
    assert actions and not any(a.endswith(":*") or a == "*" for a in actions)
    assert "dynamodb:Scan" not in actions and "dynamodb:DeleteTable" not in actions
    assert all(st["Resource"] != "*" for st in statements)
    roles = template_json["Resources"][role]["Properties"]
    assert "ManagedPolicyArns" not in roles  # no AWS-managed policy: only the statements above


def test_the_api_is_off_by_default():
    from authpulse_infra import build_app

    _, stack = build_app()
    assert stack.api is None
