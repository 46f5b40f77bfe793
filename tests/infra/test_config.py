"""Context parameters: defaults, coercion of CLI strings, refusal of bad values.

Pure Python (no jsii): the config is validated before any construct exists.
"""

from __future__ import annotations

import pytest

from authpulse_infra.config import DEFAULT_EMR_RELEASE, ConfigError, InfraConfig


def test_defaults():
    c = InfraConfig.from_context({})
    assert c.emr_release_label == DEFAULT_EMR_RELEASE == "emr-spark-8.1.0"
    assert (c.stream_shards, c.stream_retention_hours, c.raw_expiry_days) == (2, 24, 90)
    assert c.iterator_age_threshold_ms == 12 * 3_600_000  # half of 24 h
    assert (c.stream_name, c.topic_name, c.glue_database, c.metrics_namespace) == (
        "authpulse-events",
        "authpulse-alerts",
        "authpulse",
        "AuthPulse",
    )


def test_cli_strings_are_coerced():
    # `cdk synth -c stream_shards=4 -c retain_data=false` hands over strings.
    c = InfraConfig.from_context(
        {"stream_shards": "4", "retain_data": "false", "stream_retention_hours": "48", "raw_expiry_days": "1_000"}
    )
    assert (c.stream_shards, c.retain_data, c.stream_retention_hours, c.raw_expiry_days) == (4, False, 48, 1000)
    assert c.iterator_age_threshold_ms == 24 * 3_600_000


def test_local_defaults_agree_with_the_runtime_settings():
    """The stack's names are the ones the code uses when nothing is configured."""
    from authpulse_dagster.settings import Settings

    runtime, infra = Settings.from_env({}), InfraConfig()
    assert (runtime.stream_name, runtime.alert_topic, runtime.metrics_namespace, runtime.stream_shards) == (
        infra.stream_name,
        infra.topic_name,
        infra.metrics_namespace,
        infra.stream_shards,
    )


@pytest.mark.parametrize(
    "context, key",
    [
        ({"stream_shards": "0"}, "stream_shards"),
        ({"stream_shards": "two"}, "stream_shards"),
        ({"stream_retention_hours": "12"}, "stream_retention_hours"),
        ({"raw_expiry_days": "0"}, "raw_expiry_days"),
        ({"emr_release_label": "spark-latest"}, "emr_release_label"),
        ({"emr_core_instance_type": "m5.2xlarge"}, "emr_core_instance_type"),
        ({"emr_primary_instance_type": "c6i.xlarge"}, "emr_primary_instance_type"),
        ({"emr_core_instances": "4", "emr_max_instances": "3"}, "emr_max_instances"),
        ({"emr_step_concurrency": "1"}, "emr_step_concurrency"),
        ({"iterator_age_alarm_ms": str(24 * 3_600_000)}, "iterator_age_alarm_ms"),
        ({"nat_gateways": "3"}, "nat_gateways"),
        ({"retain_data": "maybe"}, "retain_data"),
        ({"prefix": "AuthPulse"}, "prefix"),
        ({"metrics_namespace": "AWS/Kinesis"}, "metrics_namespace"),
        ({"glue_database": "auth-pulse"}, "glue_database"),
        ({"emr_tls_pem_zip_uri": "security/emr-tls.zip"}, "emr_tls_pem_zip_uri"),
        ({"emr_tls_pem_zip_uri": "s3://elsewhere/certs.tar"}, "emr_tls_pem_zip_uri"),
    ],
)
def test_bad_values_are_refused_naming_the_key(context, key):
    with pytest.raises(ConfigError, match=rf"context {key}="):
        InfraConfig.from_context(context)


@pytest.mark.parametrize("instance_type", ["r6i.xlarge", "r6i.2xlarge", "r7g.4xlarge", "r5.large", "x2iedn.xlarge", "r8g.metal-24xl"])
def test_memory_optimized_types_are_accepted(instance_type):
    assert InfraConfig.from_context({"emr_core_instance_type": instance_type}).emr_core_instance_type == instance_type
