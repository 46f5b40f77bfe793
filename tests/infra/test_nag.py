"""cdk-nag's AwsSolutions pack over the whole synthesized app: no finding left unacknowledged.

The plugin runs through aws-cdk-lib's policy validation (``Validations``): on
``app.synth()`` it writes ``validation-report.json`` into the assembly and fails
synthesis on any error. Design decisions are acknowledged where they are made
(authpulse_infra/nag.py: one rule on one construct, wildcards one resource at a
time, each with its reason), so the report of the real app must be empty, with
the SOC API off (the default) and on. ``test_nag_reports_a_broken_copy`` adds a
public bucket, an admin policy, an unencrypted stream and a new wildcard in an
acknowledged policy to a fresh copy of the stack and shows each is reported by
rule: the check can fail, and the acknowledgements do not hide what they do not name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ON = {"soc_api": "on"}


def nag_findings(app, outdir: Path) -> list[tuple[str, str, str]]:
    """Synthesize ``app`` with AwsSolutionsChecks; ``(rule, construct path, severity)`` of every
    unacknowledged finding, errors and warnings alike."""
    from aws_cdk import Validations
    from cdk_nag import AwsSolutionsChecks

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        app.synth()
    except Exception as exc:  # errors fail synthesis; the findings are read from the report below
        if "ValidationFailed" not in str(exc):
            raise
    report = json.loads((outdir / "validation-report.json").read_text())
    plugins = [p["pluginName"] for p in report["pluginReports"]]
    assert plugins == ["AwsSolutions"], plugins  # the pack ran, and only it
    return sorted(
        (v["ruleName"], c["constructPath"], v["severity"])
        for plugin in report["pluginReports"]
        for v in plugin["violations"]
        for c in v["violatingConstructs"]
    )


def fresh_app(tmp_path: Path, context: dict | None = None):
    # A fresh app per check: the session's stack (conftest.py) is shared and must not get the plugin.
    from authpulse_infra import build_app

    return build_app(context=context, outdir=str(tmp_path))


@pytest.mark.parametrize("context", [{}, ON], ids=["default", "soc_api_on"])
def test_cdk_nag_aws_solutions_finds_nothing_in_the_whole_app(context, tmp_path):
    app, stack = fresh_app(tmp_path, context)
    assert (stack.api is not None) == bool(context)
    assert nag_findings(app, tmp_path) == []


def test_nag_reports_a_broken_copy(tmp_path):
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kinesis as kinesis
    from aws_cdk import aws_s3 as s3

    app, stack = fresh_app(tmp_path)
    s3.Bucket(stack, "PublicBucket", public_read_access=True, block_public_access=s3.BlockPublicAccess(
        block_public_acls=False, block_public_policy=False, ignore_public_acls=False, restrict_public_buckets=False))
    admin = iam.Role(stack, "AdminRole", assumed_by=iam.AccountRootPrincipal())
    admin.add_to_policy(iam.PolicyStatement(actions=["*"], resources=["*"]))
    kinesis.Stream(stack, "PlainStream", encryption=kinesis.StreamEncryption.UNENCRYPTED)
    # A new wildcard in a policy whose other wildcards are acknowledged one by one.
    stack.orchestrator.policy.add_statements(iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::someone-elses-bucket/*"]))

    found = nag_findings(app, tmp_path)
    rules = {(rule, path) for rule, path, _ in found}
    assert {
        ("AwsSolutions-S1", "AuthPulse/PublicBucket/Resource"),  # no access logs
        ("AwsSolutions-S2", "AuthPulse/PublicBucket/Resource"),  # public access not blocked
        ("AwsSolutions-S10", "AuthPulse/PublicBucket/Resource"),  # plain HTTP allowed
        ("AwsSolutions-IAM5[Action::*]", "AuthPulse/AdminRole/DefaultPolicy/Resource"),
        ("AwsSolutions-KDS1", "AuthPulse/PlainStream/Resource"),  # no server-side encryption
        ("AwsSolutions-IAM5[Resource::arn:aws:s3:::someone-elses-bucket/*]", "AuthPulse/Orchestrator/Policy/Resource"),
    } <= rules, found
    # Nothing else: the real stack's parts stay clean, whatever is added beside them.
    broken = ("AuthPulse/PublicBucket/", "AuthPulse/AdminRole/", "AuthPulse/PlainStream/")
    assert [f for f in found if not f[1].startswith(broken) and "someone-elses-bucket" not in f[0]] == []
    assert any(severity == "error" for _, _, severity in found)
