"""Security properties of a synthesized template, as functions that list offenders.

Each check returns what violates it (an empty list means the property holds),
so a test can show both that the real stack passes and that a deliberately
broken copy of it is caught: a check that can never fail proves nothing.
They read the plain CloudFormation JSON (``Template.to_json()``).
"""

from __future__ import annotations

import re
from typing import Any, Iterator

Template = dict[str, Any]

# Actions with no resource-level permissions in IAM: "*" is the only resource
# they accept. Anything else on "*" is a finding.
RESOURCELESS_ACTIONS = {
    "cloudwatch:PutMetricData",
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:ListMetrics",
    "elasticmapreduce:RunJobFlow",
}


def resources_of_type(template: Template, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def iam_statements(template: Template) -> Iterator[tuple[str, dict]]:
    """Every statement of every identity policy: roles' inline policies,
    AWS::IAM::Policy and AWS::IAM::ManagedPolicy documents."""
    for logical_id, res in template["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for st in as_list(policy["PolicyDocument"]["Statement"]):
                    yield logical_id, st
        elif res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for st in as_list(props["PolicyDocument"]["Statement"]):
                yield logical_id, st


def skeleton(expr: Any) -> str:
    """Render a CloudFormation expression as text with references in braces:
    ``{"Fn::GetAtt": ["Bucket", "Arn"]}`` -> ``{Bucket.Arn}``, ``{"Ref": "X"}`` -> ``{X}``."""
    if isinstance(expr, str):
        return expr
    if isinstance(expr, dict) and len(expr) == 1:
        (fn, arg), = expr.items()
        if fn == "Ref":
            return "{" + arg + "}"
        if fn == "Fn::GetAtt":
            return "{" + ".".join(arg) + "}"
        if fn == "Fn::Join":
            sep, parts = arg
            return sep.join(skeleton(p) for p in parts)
    return "<" + repr(expr) + ">"  # anything unexpected never matches an allowed pattern


# --- encryption and public access ------------------------------------------------


def buckets_not_kms_encrypted(template: Template, key_ids: set[str]) -> list[str]:
    """Buckets whose default encryption is not SSE-KMS with one of the project keys."""
    bad = []
    for bucket_id, res in resources_of_type(template, "AWS::S3::Bucket").items():
        rules = res["Properties"].get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        ok = bool(rules) and all(
            r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") == "aws:kms"
            and skeleton(r["ServerSideEncryptionByDefault"].get("KMSMasterKeyID")) in {f"{{{k}.Arn}}" for k in key_ids}
            for r in rules
        )
        if not ok:
            bad.append(bucket_id)
    return bad


def buckets_with_public_access(template: Template) -> list[str]:
    flags = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    return [
        bucket_id
        for bucket_id, res in resources_of_type(template, "AWS::S3::Bucket").items()
        if not all(res["Properties"].get("PublicAccessBlockConfiguration", {}).get(f) is True for f in flags)
    ]


def buckets_without_tls_only_policy(template: Template) -> list[str]:
    """Buckets without a policy denying every request not sent over TLS, on the
    bucket and on its objects."""
    protected: set[str] = set()
    for res in resources_of_type(template, "AWS::S3::BucketPolicy").values():
        bucket = skeleton(res["Properties"]["Bucket"]).strip("{}")
        for st in as_list(res["Properties"]["PolicyDocument"]["Statement"]):
            if (
                st.get("Effect") == "Deny"
                and st.get("Principal") in ({"AWS": "*"}, "*")
                and "s3:*" in as_list(st.get("Action"))
                and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
                and {skeleton(r) for r in as_list(st["Resource"])} >= {f"{{{bucket}.Arn}}", f"{{{bucket}.Arn}}/*"}
            ):
                protected.add(bucket)
    return [b for b in resources_of_type(template, "AWS::S3::Bucket") if b not in protected]


def streams_not_kms_encrypted(template: Template, key_ids: set[str]) -> list[str]:
    bad = []
    for stream_id, res in resources_of_type(template, "AWS::Kinesis::Stream").items():
        enc = res["Properties"].get("StreamEncryption") or {}
        if enc.get("EncryptionType") != "KMS" or skeleton(enc.get("KeyId")) not in {f"{{{k}.Arn}}" for k in key_ids}:
            bad.append(stream_id)
    return bad


def topics_not_kms_encrypted(template: Template, key_ids: set[str]) -> list[str]:
    return [
        topic_id
        for topic_id, res in resources_of_type(template, "AWS::SNS::Topic").items()
        if skeleton(res["Properties"].get("KmsMasterKeyId")) not in {f"{{{k}.Arn}}" for k in key_ids}
    ]


# --- IAM ---------------------------------------------------------------------------


def star_actions_on_star_resources(template: Template) -> list[str]:
    """Allow statements granting ``*`` or ``service:*`` on ``*``: the issue's rule."""
    bad = []
    for owner, st in iam_statements(template):
        if st.get("Effect") != "Allow":
            continue
        actions = as_list(st.get("Action", []))
        resources = as_list(st.get("Resource", []))
        if "*" in resources and any(a == "*" or a.endswith(":*") for a in actions):
            bad.append(f"{owner}: {st.get('Sid', actions)}")
    return bad


def wildcard_actions(template: Template) -> list[str]:
    """Stricter: no action pattern at all in our identity policies (every action is spelled out)."""
    return [
        f"{owner}: {a}"
        for owner, st in iam_statements(template)
        if st.get("Effect") == "Allow"
        for a in as_list(st.get("Action", []))
        if "*" in a
    ]


def unscoped_statements(template: Template) -> list[str]:
    """Allow statements on ``*`` other than actions that accept nothing else;
    PutMetricData must then be held to one namespace, RunJobFlow to requests
    carrying tags (aws:RequestTag conditions)."""
    bad = []
    for owner, st in iam_statements(template):
        if st.get("Effect") != "Allow" or "*" not in as_list(st.get("Resource", [])):
            continue
        actions = set(as_list(st.get("Action", [])))
        if not actions <= RESOURCELESS_ACTIONS:
            bad.append(f"{owner}: {sorted(actions - RESOURCELESS_ACTIONS)} on *")
        elif "cloudwatch:PutMetricData" in actions and "cloudwatch:namespace" not in st.get("Condition", {}).get("StringEquals", {}):
            bad.append(f"{owner}: PutMetricData without a namespace condition")
        elif "elasticmapreduce:RunJobFlow" in actions and not any(
            k.startswith("aws:RequestTag/") for k in st.get("Condition", {}).get("StringEquals", {})
        ):
            bad.append(f"{owner}: RunJobFlow without a request-tag condition")
    return bad


def untagged_resource_wildcards(template: Template, patterns: list[str]) -> list[str]:
    """Allow statements on a wildcard resource matching one of ``patterns`` (over ``skeleton``,
    e.g. every EMR cluster of the account) that are not held to a tag by an
    ``aws:ResourceTag/...`` condition."""
    bad = []
    for owner, st in iam_statements(template):
        if st.get("Effect") != "Allow":
            continue
        tagged = any(k.startswith("aws:ResourceTag/") for k in st.get("Condition", {}).get("StringEquals", {}))
        for resource in as_list(st.get("Resource", [])):
            if any(re.fullmatch(p, skeleton(resource)) for p in patterns) and not tagged:
                bad.append(f"{owner}: {st.get('Sid')} on {skeleton(resource)} without a resource-tag condition")
    return bad


def pass_role_unscoped(template: Template) -> list[str]:
    """iam:PassRole on a wildcard, or without an iam:PassedToService condition."""
    bad = []
    for owner, st in iam_statements(template):
        if st.get("Effect") != "Allow" or "iam:PassRole" not in as_list(st.get("Action", [])):
            continue
        if any("*" in skeleton(r) for r in as_list(st.get("Resource", []))):
            bad.append(f"{owner}: {st.get('Sid')} passes a wildcard")
        if "iam:PassedToService" not in st.get("Condition", {}).get("StringEquals", {}):
            bad.append(f"{owner}: {st.get('Sid')} without iam:PassedToService")
    return bad


def foreign_resources(template: Template, allowed: dict[str, list[str]]) -> list[str]:
    """Resources outside the project: for each service prefix, the regular
    expressions (over ``skeleton``) a resource must match. A service with no
    entry may not be granted at all; ``*`` is judged by ``unscoped_statements``."""
    bad = []
    for owner, st in iam_statements(template):
        if st.get("Effect") != "Allow":
            continue
        for action in as_list(st.get("Action", [])):
            service = action.split(":", 1)[0]
            patterns = allowed.get(service)
            if patterns is None:
                bad.append(f"{owner}: {action} (service not expected)")
                continue
            for resource in as_list(st.get("Resource", [])):
                text = skeleton(resource)
                if text == "*" and action in RESOURCELESS_ACTIONS:
                    continue
                if not any(re.fullmatch(p, text) for p in patterns):
                    bad.append(f"{owner}: {action} on {text}")
    return bad


# --- alarms --------------------------------------------------------------------------


def alarms_not_on_topic(template: Template, topic_id: str) -> list[str]:
    """Alarms that do not notify the topic both when they fire and when they clear."""
    want = [{"Ref": topic_id}]
    return [
        alarm_id
        for alarm_id, res in resources_of_type(template, "AWS::CloudWatch::Alarm").items()
        if res["Properties"].get("AlarmActions") != want or res["Properties"].get("OKActions") != want
    ]
