"""Full synthesis to a cloud assembly, offline, the way `cdk synth` runs it.

`cdk synth` runs `app` from cdk.json with CDK_OUTDIR (and CDK_CONTEXT_JSON)
set and reads the assembly back. These tests do the same without the npm CLI:
in process through build_app, and as a subprocess of infra/app.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra import checks
from tests.infra.conftest import INFRA

STACK = "AuthPulse"


def _assembly(outdir: Path) -> dict:
    manifest = json.loads((outdir / "manifest.json").read_text())
    artifact = manifest["artifacts"][STACK]
    assert artifact["type"] == "aws:cloudformation:stack"
    # Environment-agnostic: deployable to whatever account the credentials name.
    assert artifact["environment"] == "aws://unknown-account/unknown-region"
    # No context lookups were needed (a lookup would need AWS credentials).
    assert "missing" not in manifest
    template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
    assets = json.loads((outdir / f"{STACK}.assets.json").read_text())
    return {"manifest": manifest, "template": template, "assets": assets}


def test_app_synth_writes_a_cloud_assembly(tmp_path):
    from authpulse_infra import build_app

    app, _ = build_app(outdir=str(tmp_path))
    app.synth()
    out = _assembly(tmp_path)
    types = {r["Type"] for r in out["template"]["Resources"].values()}
    assert {"AWS::EMR::Cluster", "AWS::Kinesis::Stream", "AWS::S3::Bucket", "AWS::Athena::WorkGroup"} <= types
    # Nothing to bundle or build at deploy time: no Lambda code, no Docker image,
    # the only file asset is the template itself.
    assert out["assets"].get("dockerImages", {}) == {}
    (asset,) = out["assets"]["files"].values()
    assert asset["source"]["path"] == f"{STACK}.template.json"
    assert "AWS::Lambda::Function" not in types


def test_app_py_synthesizes_as_the_cdk_cli_runs_it(tmp_path):
    env = dict(os.environ, CDK_OUTDIR=str(tmp_path), CDK_CONTEXT_JSON=json.dumps({"stream_shards": "3"}))
    # No route anywhere: synthesis must not need one.
    env.update(HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9", AWS_EC2_METADATA_DISABLED="true")
    result = subprocess.run([sys.executable, str(INFRA / "app.py")], cwd=INFRA, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    (stream,) = checks.resources_of_type(_assembly(tmp_path)["template"], "AWS::Kinesis::Stream").values()
    assert stream["Properties"]["ShardCount"] == 3


def test_app_py_refuses_bad_context_with_one_line(tmp_path):
    # Context reaches the CDK's Node process through the environment, as from the CLI.
    env = dict(os.environ, CDK_OUTDIR=str(tmp_path), CDK_CONTEXT_JSON=json.dumps({"emr_core_instance_type": "m5.xlarge"}))
    result = subprocess.run([sys.executable, str(INFRA / "app.py")], cwd=INFRA, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    err = result.stderr.strip()
    assert err.count("\n") == 0 and err.startswith("authpulse-infra: error: context emr_core_instance_type='m5.xlarge'")
    assert not (tmp_path / "manifest.json").exists()


def test_cdk_json_runs_app_py():
    cdk_json = json.loads((INFRA / "cdk.json").read_text())
    assert cdk_json["app"].split()[-1] == "app.py"
    assert (INFRA / cdk_json["app"].split()[0]).resolve() == (INFRA.parent / ".venv" / "bin" / "python").resolve()


@pytest.fixture(scope="module")
def overridden():
    """A second synthesis with every kind of override."""
    from aws_cdk.assertions import Template

    from authpulse_infra import build_app

    _, stack = build_app(
        context={
            "prefix": "authpulse-stg",
            "stack_name": "AuthPulseStaging",
            "stream_shards": "4",
            "stream_retention_hours": "48",
            "raw_expiry_days": "30",
            "emr_release_label": "emr-spark-8.0.0",
            "emr_core_instance_type": "r7g.2xlarge",
            "emr_max_instances": "10",
            "nat_gateways": "1",
            "retain_data": "false",
            "emr_tls_pem_zip_uri": "s3://authpulse-stg-tls/emr/emr-tls.zip",
        }
    )
    return stack, Template.from_stack(stack).to_json()


def test_context_overrides_reach_the_template(overridden):
    stack, t = overridden
    assert stack.stack_name == "AuthPulseStaging"
    (stream,) = checks.resources_of_type(t, "AWS::Kinesis::Stream").values()
    assert (stream["Properties"]["Name"], stream["Properties"]["ShardCount"], stream["Properties"]["RetentionPeriodHours"]) == (
        "authpulse-stg-events",
        4,
        48,
    )
    raw_id = stack.get_logical_id(stack.storage.raw.node.default_child)
    (raw_rule,) = [r for r in t["Resources"][raw_id]["Properties"]["LifecycleConfiguration"]["Rules"] if r["Id"] == "tier-then-expire-raw"]
    assert raw_rule["ExpirationInDays"] == 30
    (cluster,) = checks.resources_of_type(t, "AWS::EMR::Cluster").values()
    assert cluster["Properties"]["ReleaseLabel"] == "emr-spark-8.0.0"
    assert cluster["Properties"]["Instances"]["CoreInstanceGroup"]["InstanceType"] == "r7g.2xlarge"
    assert cluster["Properties"]["ManagedScalingPolicy"]["ComputeLimits"]["MaximumCapacityUnits"] == 10
    age = [a for a in checks.resources_of_type(t, "AWS::CloudWatch::Alarm").values() if a["Properties"]["Namespace"] == "AWS/Kinesis"]
    assert age[0]["Properties"]["Threshold"] == 24 * 3_600_000
    for res in checks.resources_of_type(t, "AWS::S3::Bucket").values():
        assert res["DeletionPolicy"] == "Delete"
    (sc,) = checks.resources_of_type(t, "AWS::EMR::SecurityConfiguration").values()
    tls = sc["Properties"]["SecurityConfiguration"]["EncryptionConfiguration"]["InTransitEncryptionConfiguration"]["TLSCertificateConfiguration"]
    assert tls == {"CertificateProviderType": "PEM", "S3Object": "s3://authpulse-stg-tls/emr/emr-tls.zip"}
    assert "EmrTlsPemZipUri" not in t.get("Parameters", {})  # given as context: no parameter to fill at deploy time
    role = t["Resources"][stack.get_logical_id(stack.emr.instance_role.node.default_child)]["Properties"]
    tls_reads = [st for p in role["Policies"] for st in p["PolicyDocument"]["Statement"] if st.get("Sid") == "TlsCertificates"]
    assert [(st["Action"], checks.skeleton(st["Resource"])) for st in tls_reads] == [
        ("s3:GetObject", "arn:{AWS::Partition}:s3:::authpulse-stg-tls/emr/emr-tls.zip")]


def test_with_a_nat_the_cluster_still_sits_in_a_private_subnet(overridden):
    stack, t = overridden
    assert len(checks.resources_of_type(t, "AWS::EC2::NatGateway")) == 1
    subnet = t["Resources"][stack.get_logical_id(stack.network.emr_subnet.node.default_child)]["Properties"]
    assert {"Key": "aws-cdk:subnet-type", "Value": "Private"} in subnet["Tags"]
    assert subnet["MapPublicIpOnLaunch"] is False
    for res in checks.resources_of_type(t, "AWS::EC2::Subnet").values():
        assert res["Properties"]["MapPublicIpOnLaunch"] is False  # even the NAT's public subnet hands out no public IPs


def test_overridden_stack_keeps_the_security_properties(overridden):
    stack, t = overridden
    keys = set(checks.resources_of_type(t, "AWS::KMS::Key"))
    assert checks.buckets_not_kms_encrypted(t, keys) == [stack.get_logical_id(stack.storage.logs.node.default_child)]  # SSE-S3 logs
    assert checks.buckets_with_public_access(t) == []
    assert checks.buckets_without_tls_only_policy(t) == []
    assert checks.streams_not_kms_encrypted(t, keys) == []
    assert checks.star_actions_on_star_resources(t) == []
    assert checks.unscoped_statements(t) == []


def test_cfn_lint_finds_nothing(template_json, overridden):
    """cfn-lint (installed with moto[server]) checks every property against the
    CloudFormation resource schemas: types, allowed values, required fields,
    references. Offline, with the schemas it ships."""
    from cfnlint.api import ManualArgs, lint

    for t in (template_json, overridden[1]):
        matches = lint(json.dumps(t), config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
        assert [f"{m.rule.id} {m.message}" for m in matches] == []
