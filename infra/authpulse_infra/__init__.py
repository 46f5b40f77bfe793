"""AuthPulse infrastructure as code (AWS CDK v2, Python).

``build_app`` is the one entry point: ``infra/app.py`` (what ``cdk synth``
runs) and the tests both go through it, so they synthesize the same stack.
"""

from __future__ import annotations

from typing import Any, Mapping

from authpulse_infra.config import ConfigError, InfraConfig

__all__ = ["ConfigError", "InfraConfig", "build_app"]

# CDK feature flags the stack depends on, set in code (like every default) so the
# tests synthesize what `cdk synth` does. Server access logs are delivered under a
# bucket policy on the log bucket: without the flag CDK grants the LogDeliveryWrite
# ACL instead, which buckets with ACLs disabled (BucketOwnerEnforced) refuse.
FEATURE_FLAGS = {"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True}


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None):
    """Create the CDK app with the AuthPulse stack.

    ``context`` adds to what the CDK CLI passes in (``cdk.json``, ``-c``);
    ``outdir`` overrides where the cloud assembly goes (the CLI sets it through
    ``CDK_OUTDIR`` otherwise). Returns ``(app, stack)``.
    """
    import aws_cdk as cdk

    from authpulse_infra.stack import AuthPulseStack

    kwargs: dict[str, Any] = {"context": {**FEATURE_FLAGS, **dict(context or {})}}
    if outdir:
        kwargs["outdir"] = outdir
    app = cdk.App(**kwargs)
    config = InfraConfig.from_context(app.node.try_get_context)
    stack = AuthPulseStack(app, config.stack_name, config=config)
    return app, stack
