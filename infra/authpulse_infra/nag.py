"""cdk-nag acknowledgements: each one on the narrowest construct, with the reason it names.

The tests run ``cdk_nag.AwsSolutionsChecks`` over the whole app
(tests/infra/test_nag.py) and accept no unacknowledged finding. What cannot be
fixed because it is the design is acknowledged here, through aws-cdk-lib's
``Validations`` (the policy-validation report cdk-nag writes into), never for a
whole stack or rule: a wildcard is acknowledged resource string by resource
string, so a new wildcard in the same policy is a new finding.
"""

from __future__ import annotations

from typing import Any, Iterable

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct


def nag_name(scope: IConstruct, value: Any) -> str:
    """How cdk-nag spells a resource in a finding id: tokens resolved, then
    ``Ref`` -> ``<Id>``, ``Fn::GetAtt`` -> ``<Id.Attr>``, ``Fn::Join`` concatenated
    (``arn:<AWS::Partition>:glue:...``, ``<StorageRawBucketBBD9BDC5.Arn>/*``)."""

    def render(expr: Any) -> str:
        if isinstance(expr, str):
            return expr
        if isinstance(expr, dict) and len(expr) == 1:
            (fn, arg), = expr.items()
            if fn == "Ref":
                return f"<{arg}>"
            if fn == "Fn::GetAtt":
                return f"<{'.'.join(arg) if isinstance(arg, list) else arg}>"
            if fn == "Fn::Join":
                separator, parts = arg
                return separator.join(render(p) for p in parts)
        raise ValueError(f"no cdk-nag name for {expr!r}")

    return render(Stack.of(scope).resolve(value))


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one AwsSolutions rule (``"AwsSolutions-EMR6"``) on ``construct``."""
    Validations.of(construct).acknowledge(Acknowledgment(id=f"AwsSolutions::{rule}", reason=reason))


def acknowledge_wildcards(construct: IConstruct, resources: Iterable[Any], reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for exactly these wildcard resources of ``construct``'s policy."""
    names = sorted({nag_name(construct, r) for r in resources})
    Validations.of(construct).acknowledge(
        *[Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{n}]", reason=reason) for n in names]
    )
