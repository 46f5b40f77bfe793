"""From deployed-stack outputs to the AWS-mode environment (no CDK, no AWS)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

from authpulse_infra.outputs import RUNTIME_ENV_VARS, env_from_outputs, output_key
from tests.infra.conftest import INFRA

REPO = INFRA.parent

SAMPLE = {
    "AwsRegion": "us-east-1",
    "AuthpulseWarehouseUri": "s3://authpulse-curated-abc/warehouse",
    "AuthpulseRawUri": "s3://authpulse-raw-abc/raw",
    "AuthpulseGlueDatabase": "authpulse",
    "AuthpulseStream": "authpulse-events",
    "AuthpulseAlertTopicArn": "arn:aws:sns:us-east-1:111122223333:authpulse-alerts",
    "AuthpulseMetricsNamespace": "AuthPulse",
    "AuthpulseEmrClusterId": "j-2AXXXXXXGAPLF",
    "AuthpulsePipesBucket": "authpulse-pipes-abc",
    "AuthpulseEmrArtifactsUri": "s3://authpulse-pipes-abc/artifacts",
    "AuthpulseAthenaWorkgroup": "authpulse",
    "AuthpulseAthenaOutput": "s3://authpulse-aggregates-abc/athena-results/",
    "AuthpulseEmrReleaseLabel": "emr-spark-8.1.0",
    "AuthpulseEmrServiceRole": "AuthPulse-EmrServiceRoleABC-1A2B3C4D5E6F",
    "AuthpulseEmrInstanceProfile": "authpulse-emr-instance-us-east-1",
    "AuthpulseEmrSubnetId": "subnet-0123456789abcdef0",
    "AuthpulseEmrSecurityConfiguration": "EmrSecurityConfiguration-AbCdEf123456",
    "AuthpulseEmrPrimarySg": "sg-0123456789abcdef0",
    "AuthpulseEmrCoreSg": "sg-0123456789abcdef1",
    "AuthpulseEmrServiceAccessSg": "sg-0123456789abcdef2",
    "DagsterPolicyArn": "arn:aws:iam::111122223333:policy/x",
}


def test_output_keys_are_the_variables_in_camel_case():
    assert output_key("AUTHPULSE_EMR_CLUSTER_ID") == "AuthpulseEmrClusterId"
    assert output_key("AWS_REGION") == "AwsRegion"
    assert len({output_key(n) for n in RUNTIME_ENV_VARS}) == len(RUNTIME_ENV_VARS)


def test_every_variable_maps_and_missing_ones_are_named():
    env = env_from_outputs(SAMPLE)
    assert list(env) == list(RUNTIME_ENV_VARS)
    assert env["AUTHPULSE_EMR_CLUSTER_ID"] == "j-2AXXXXXXGAPLF"
    partial = {k: v for k, v in SAMPLE.items() if k not in ("AuthpulseStream", "AwsRegion")}
    with pytest.raises(KeyError, match="AWS_REGION, AUTHPULSE_STREAM"):
        env_from_outputs(partial)


def test_the_exported_environment_configures_both_emr_modes():
    """What the outputs become is what settings.py accepts: the long-running cluster by default,
    and with AUTHPULSE_EMR_TRANSIENT=1 a transient cluster in the stack's subnet, with its roles,
    security groups and security configuration (none of which the stack used to output)."""
    from authpulse_dagster.settings import Settings

    env = {"AUTHPULSE_ENV": "aws", **env_from_outputs(SAMPLE)}
    assert Settings.from_env(env).require_aws().emr.cluster_id == "j-2AXXXXXXGAPLF"
    emr = Settings.from_env({**env, "AUTHPULSE_EMR_TRANSIENT": "1"}).require_aws().emr
    assert (emr.transient, emr.release_label, emr.service_role, emr.instance_profile, emr.subnet_id, emr.security_configuration,
            emr.primary_security_group, emr.core_security_group, emr.service_access_security_group) == (
        True, "emr-spark-8.1.0", "AuthPulse-EmrServiceRoleABC-1A2B3C4D5E6F", "authpulse-emr-instance-us-east-1",
        "subnet-0123456789abcdef0", "EmrSecurityConfiguration-AbCdEf123456", "sg-0123456789abcdef0", "sg-0123456789abcdef1",
        "sg-0123456789abcdef2")


def _run(args, stdin=None):
    return subprocess.run(
        [sys.executable, str(INFRA / "env_from_outputs.py"), *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def _parse_exports(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        (env[name],) = shlex.split(value)
    return env


def test_cdk_outputs_file(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"AuthPulse": SAMPLE}))
    result = _run([str(path)])
    assert result.returncode == 0, result.stderr
    env = _parse_exports(result.stdout)
    assert env["AUTHPULSE_ENV"] == "aws"
    assert env["AUTHPULSE_ATHENA_OUTPUT"] == "s3://authpulse-aggregates-abc/athena-results/"
    assert set(env) == {"AUTHPULSE_ENV", *RUNTIME_ENV_VARS}


def test_describe_stacks_on_stdin_and_a_stack_choice():
    described = {
        "Stacks": [
            {"StackName": "AuthPulse", "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in SAMPLE.items()]},
            {"StackName": "Other", "Outputs": []},
        ]
    }
    ambiguous = _run(["-"], stdin=json.dumps(described))
    assert ambiguous.returncode == 2 and "pick one with --stack" in ambiguous.stderr
    chosen = _run(["-", "--stack", "AuthPulse"], stdin=json.dumps(described))
    assert chosen.returncode == 0, chosen.stderr
    assert _parse_exports(chosen.stdout)["AUTHPULSE_STREAM"] == "authpulse-events"


def test_an_older_stack_is_refused_in_one_line():
    result = _run(["-"], stdin=json.dumps({"AuthPulse": {"AwsRegion": "us-east-1"}}))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "stack outputs missing for: AUTHPULSE_WAREHOUSE_URI" in result.stderr


def test_the_runbook_names_every_variable():
    runbook = (REPO / "docs" / "deploy-aws.md").read_text()
    for name in RUNTIME_ENV_VARS:
        assert name in runbook, name
    assert "make emr-package" in runbook and "AUTHPULSE_EMR_ARTIFACTS_URI" in runbook
