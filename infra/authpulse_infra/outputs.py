"""The contract between the stack and the Dagster side: one output per variable.

``AUTHPULSE_ENV=aws`` reads these environment variables; the stack publishes
one CloudFormation output for each, named by a fixed rule (the variable in
CamelCase: ``AUTHPULSE_STREAM`` -> ``AuthpulseStream``), so the runbook and
``env_from_outputs.py`` can turn a deployed stack into an environment file
without a hand-kept table. Pure Python: importing it does not start jsii.
"""

from __future__ import annotations

from typing import Iterable, Mapping

# What AUTHPULSE_EMR_TRANSIENT=1 (a cluster per batch step) reads besides the rest
# (authpulse_dagster/settings.py, _emr_from): the platform cluster's release, roles,
# subnet, security groups and security configuration, so a transient cluster is built
# like it. Read only in transient mode; exported always (they cost nothing unread).
TRANSIENT_EMR_ENV_VARS: tuple[str, ...] = (
    "AUTHPULSE_EMR_RELEASE_LABEL",
    "AUTHPULSE_EMR_SERVICE_ROLE",
    "AUTHPULSE_EMR_INSTANCE_PROFILE",
    "AUTHPULSE_EMR_SUBNET_ID",
    "AUTHPULSE_EMR_SECURITY_CONFIGURATION",
    "AUTHPULSE_EMR_PRIMARY_SG",
    "AUTHPULSE_EMR_CORE_SG",
    "AUTHPULSE_EMR_SERVICE_ACCESS_SG",
)

# Every variable the AWS mode of the Dagster code location needs from the stack.
RUNTIME_ENV_VARS: tuple[str, ...] = (
    "AWS_REGION",
    "AUTHPULSE_WAREHOUSE_URI",
    "AUTHPULSE_RAW_URI",
    "AUTHPULSE_GLUE_DATABASE",
    "AUTHPULSE_STREAM",
    "AUTHPULSE_ALERT_TOPIC_ARN",
    "AUTHPULSE_METRICS_NAMESPACE",
    "AUTHPULSE_EMR_CLUSTER_ID",
    "AUTHPULSE_PIPES_BUCKET",
    "AUTHPULSE_EMR_ARTIFACTS_URI",
    "AUTHPULSE_ATHENA_WORKGROUP",
    "AUTHPULSE_ATHENA_OUTPUT",
    *TRANSIENT_EMR_ENV_VARS,
)


def output_key(env_var: str) -> str:
    """``AUTHPULSE_EMR_CLUSTER_ID`` -> ``AuthpulseEmrClusterId`` (a valid CloudFormation output name)."""
    return "".join(part.capitalize() for part in env_var.split("_"))


def env_from_outputs(outputs: Mapping[str, str], names: Iterable[str] = RUNTIME_ENV_VARS) -> dict[str, str]:
    """Map stack outputs (OutputKey -> value) to the runtime's variables.

    Raises KeyError naming every missing output, so a stack from an older
    version of this app is caught before Dagster starts half-configured.
    """
    missing = [name for name in names if output_key(name) not in outputs]
    if missing:
        raise KeyError("stack outputs missing for: " + ", ".join(missing))
    return {name: str(outputs[output_key(name)]) for name in names}
