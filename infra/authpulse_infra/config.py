"""The stack's parameters: CDK context keys, their defaults, and validation.

Every knob is a context value (``cdk synth -c stream_shards=4``) so one stack
definition serves a laptop synth, a small account and a LANL-scale one. The
CDK CLI hands ``-c`` values over as strings, so each value is coerced here and
a bad one stops synthesis with a message naming the key, instead of surfacing
as a CloudFormation error twenty minutes into a deploy.

Defaults live in code (not in ``cdk.json``) so the tests synthesize exactly
what ``cdk synth`` would with no overrides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Mapping

# The EMR release the project targets (docs/DESIGN: Spark 4.1.1, Iceberg 1.11,
# Python 3.11, the current long-term-support line).
DEFAULT_EMR_RELEASE = "emr-spark-8.1.0"

# Memory-optimized (r*/x* families): Spark's shuffle and the per-day gold
# rebuilds are memory-bound. x86_64 (r6i) by default because the project
# archive (`make emr-package`) is built on the operator's machine and carries
# compiled wheels for that architecture; pick r7g/r6g only with an arm64 archive.
_MEMORY_OPTIMIZED = re.compile(r"^(r|x)\d+[a-z]*\.[0-9]*x?(large|metal)(-[0-9a-z]+)?$")
_RELEASE_LABEL = re.compile(r"^emr-(spark-)?\d+\.\d+\.\d+$")
_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
_GLUE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,254}$")
# An object in a bucket (S3 bucket naming rules), ending in .zip; also the CloudFormation AllowedPattern.
TLS_PEM_ZIP_URI = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[A-Za-z0-9!_.*'()/-]+\.zip$"


class ConfigError(ValueError):
    """A context value that cannot be deployed; the message names the key."""


@dataclass(frozen=True)
class InfraConfig:
    # Names. `prefix` goes into every named resource so two deployments
    # (e.g. staging and prod) can share an account.
    prefix: str = "authpulse"
    stack_name: str = "AuthPulse"
    # Must equal the Iceberg namespace the code writes to (`authpulse`).
    glue_database: str = "authpulse"
    # Must equal AUTHPULSE_METRICS_NAMESPACE of the streaming job, or the
    # batch-duration alarm watches a metric nobody publishes.
    metrics_namespace: str = "AuthPulse"

    # Network.
    max_azs: int = 2
    # 0 = isolated subnets reached only through VPC endpoints (no NAT bill).
    # Set 1 if a bootstrap step or a library needs the internet.
    nat_gateways: int = 0

    # Storage.
    raw_expiry_days: int = 90
    athena_results_expiry_days: int = 30
    pipes_messages_expiry_days: int = 14
    emr_logs_expiry_days: int = 30
    # S3 server access logs and VPC flow logs (the log bucket).
    access_logs_expiry_days: int = 90
    # Old versions in the versioned buckets (raw, pipes): how long an overwritten
    # or deleted landing file or archive can still be restored.
    noncurrent_versions_expiry_days: int = 30
    # True keeps buckets, keys and the Glue database when the stack is deleted.
    retain_data: bool = True

    # Streaming.
    stream_shards: int = 2
    stream_retention_hours: int = 24

    # EMR.
    emr_release_label: str = DEFAULT_EMR_RELEASE
    emr_primary_instance_type: str = "r6i.xlarge"
    emr_core_instance_type: str = "r6i.2xlarge"
    emr_core_instances: int = 2
    # Managed scaling adds task nodes up to this many core+task nodes.
    emr_max_instances: int = 6
    # The streaming job is one long-running step; batch steps run beside it.
    emr_step_concurrency: int = 4
    emr_core_volume_gb: int = 64
    emr_primary_volume_gb: int = 32
    # In-transit TLS. EMR's security configuration documents two certificate
    # providers: "PEM" (a zip in S3 holding privateKey.pem, certificateChain.pem
    # [, trustedCertificates.pem]) and "Custom" (a provider jar); there is no
    # EMR-managed option. The zip must exist before the cluster starts, so it
    # lives outside this stack's buckets (which do not exist before the first
    # deploy, and which the Dagster identity can read): s3://bucket/key.zip.
    # Empty = the template takes it as the CloudFormation parameter
    # EmrTlsPemZipUri, which `cdk deploy --parameters` must give.
    emr_tls_pem_zip_uri: str = ""

    # Alarms. 0 = derive: half the stream retention (DOMAIN.md §4: alert at
    # about 50% of retention, before records expire unread).
    iterator_age_alarm_ms: int = 0
    batch_duration_alarm_ms: int = 300_000
    alarm_period_minutes: int = 5
    alarm_evaluation_periods: int = 3

    # Athena: a per-query scan cap guards the bill against a runaway query.
    athena_bytes_scanned_cutoff: int = 100 * 1024**3

    @property
    def iterator_age_threshold_ms(self) -> int:
        if self.iterator_age_alarm_ms:
            return self.iterator_age_alarm_ms
        return self.stream_retention_hours * 3_600_000 // 2

    @property
    def stream_name(self) -> str:
        return f"{self.prefix}-events"

    @property
    def topic_name(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def athena_workgroup(self) -> str:
        return self.prefix

    @classmethod
    def from_context(cls, get: Any) -> "InfraConfig":
        """Build from a context getter (``node.try_get_context``) or a mapping."""
        lookup = get.get if isinstance(get, Mapping) else get
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = lookup(f.name)
            if raw is None:
                continue
            values[f.name] = _coerce(f.name, raw, type(getattr(cls, f.name)))
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        def need(ok: bool, key: str, why: str) -> None:
            if not ok:
                raise ConfigError(f"context {key}={getattr(self, key)!r}: {why}")

        need(bool(_NAME.match(self.prefix)), "prefix", "use 2-31 lowercase letters, digits or '-', starting with a letter")
        need(bool(re.match(r"^[A-Za-z][A-Za-z0-9-]{0,127}$", self.stack_name)), "stack_name", "not a valid stack name")
        need(bool(_GLUE_NAME.match(self.glue_database)), "glue_database", "Glue database names are lowercase letters, digits and '_'")
        need(bool(self.metrics_namespace) and not self.metrics_namespace.startswith("AWS/"), "metrics_namespace", "custom namespaces cannot start with AWS/")
        need(1 <= self.max_azs <= 6, "max_azs", "must be 1-6")
        need(0 <= self.nat_gateways <= self.max_azs, "nat_gateways", "must be between 0 and max_azs")
        need(self.raw_expiry_days >= 1, "raw_expiry_days", "must be at least 1 day")
        need(self.athena_results_expiry_days >= 1, "athena_results_expiry_days", "must be at least 1 day")
        need(self.pipes_messages_expiry_days >= 1, "pipes_messages_expiry_days", "must be at least 1 day")
        need(self.emr_logs_expiry_days >= 1, "emr_logs_expiry_days", "must be at least 1 day")
        need(self.access_logs_expiry_days >= 1, "access_logs_expiry_days", "must be at least 1 day")
        need(self.noncurrent_versions_expiry_days >= 1, "noncurrent_versions_expiry_days", "must be at least 1 day")
        need(1 <= self.stream_shards <= 500, "stream_shards", "must be 1-500 (the default shard quota per account is lower; check yours)")
        need(24 <= self.stream_retention_hours <= 8760, "stream_retention_hours", "Kinesis retention is 24-8760 hours")
        need(bool(_RELEASE_LABEL.match(self.emr_release_label)), "emr_release_label", "expected a label like emr-spark-8.1.0")
        for key in ("emr_primary_instance_type", "emr_core_instance_type"):
            need(bool(_MEMORY_OPTIMIZED.match(getattr(self, key))), key, "use a memory-optimized type (r* or x* family), e.g. r6i.2xlarge")
        need(self.emr_core_instances >= 1, "emr_core_instances", "must be at least 1")
        need(self.emr_max_instances >= self.emr_core_instances, "emr_max_instances", "must be at least emr_core_instances")
        need(2 <= self.emr_step_concurrency <= 256, "emr_step_concurrency", "must be 2-256: the streaming step occupies one slot for good")
        need(self.emr_core_volume_gb >= 16, "emr_core_volume_gb", "must be at least 16")
        need(self.emr_primary_volume_gb >= 16, "emr_primary_volume_gb", "must be at least 16")
        need(
            self.emr_tls_pem_zip_uri == "" or bool(re.match(TLS_PEM_ZIP_URI, self.emr_tls_pem_zip_uri)),
            "emr_tls_pem_zip_uri",
            "give the S3 URI of a .zip, e.g. s3://my-authpulse-tls/emr-tls.zip",
        )
        need(self.iterator_age_alarm_ms >= 0, "iterator_age_alarm_ms", "must be positive (or 0 to derive it from retention)")
        need(self.iterator_age_threshold_ms < self.stream_retention_hours * 3_600_000, "iterator_age_alarm_ms", "must be below the stream retention, or the alarm fires after data is lost")
        need(self.batch_duration_alarm_ms > 0, "batch_duration_alarm_ms", "must be positive")
        need(self.alarm_period_minutes in (1, 5, 10, 15, 30, 60), "alarm_period_minutes", "use 1, 5, 10, 15, 30 or 60")
        need(self.alarm_evaluation_periods >= 1, "alarm_evaluation_periods", "must be at least 1")
        need(self.athena_bytes_scanned_cutoff >= 10_000_000, "athena_bytes_scanned_cutoff", "Athena's minimum is 10,000,000 bytes")


def _coerce(key: str, raw: Any, kind: type) -> Any:
    """Context from the CLI arrives as strings; from cdk.json as JSON types."""
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise ConfigError(f"context {key}={raw!r}: expected true or false")
    if kind is int:
        if isinstance(raw, bool):
            raise ConfigError(f"context {key}={raw!r}: expected a whole number")
        try:
            return int(str(raw).replace("_", ""))
        except ValueError:
            raise ConfigError(f"context {key}={raw!r}: expected a whole number") from None
    return str(raw)
