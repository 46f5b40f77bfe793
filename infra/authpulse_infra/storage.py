"""The data key and the four buckets.

- raw:        landing files (LANL exports) under ``raw/``; expired after
              ``raw_expiry_days`` because bronze keeps every line anyway.
- curated:    the Iceberg warehouse (bronze, silver, gold) under ``warehouse/``.
- aggregates: Athena query results and exported aggregates.
- pipes:      the Dagster/Pipes bucket: the project archive (``artifacts/``),
              Pipes context and messages (``pipes/``), EMR logs (``emr-logs/``).
- logs:       S3 server access logs of the four (``s3-access/<bucket>/``) and
              the VPC flow logs (``vpc-flow-logs/``), expired after
              ``access_logs_expiry_days``.

All four data buckets: SSE-KMS with one customer-managed key (S3 Bucket Keys
on, so S3 asks KMS for a data key per bucket and not per object), server access
logs to the log bucket. Every bucket, the log bucket too: every form of public
access blocked, ACLs disabled, and a bucket policy that refuses plain HTTP and
TLS below 1.2.

Versioning where an overwrite or a delete would lose something nothing else
keeps: the raw zone (the landed files bronze is rebuilt from) and the Pipes
bucket (the ``artifacts/`` archive every step runs). Old versions expire after
``noncurrent_versions_expiry_days``. Not on the warehouse (Iceberg's snapshots
are its version history, and S3 versions would keep every compacted or expired
data file a second time) nor on the aggregates (Athena results, re-creatable).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from authpulse_infra.config import InfraConfig

RAW_PREFIX = "raw"
WAREHOUSE_PREFIX = "warehouse"
ATHENA_RESULTS_PREFIX = "athena-results/"
ARTIFACTS_PREFIX = "artifacts"
PIPES_PREFIX = "pipes/"
EMR_LOGS_PREFIX = "emr-logs/"
S3_ACCESS_LOGS_PREFIX = "s3-access/"
FLOW_LOGS_PREFIX = "vpc-flow-logs/"

# Intelligent-Tiering from day 0: access patterns differ per table and per day
# (recent partitions are hot, old ones are read by backfills and lookbacks),
# so let S3 move objects instead of guessing a schedule. Objects under 128 KB
# are never tiered and carry no monitoring fee.
_TIERING = s3.Transition(storage_class=s3.StorageClass.INTELLIGENT_TIERING, transition_after=Duration.days(0))


class Storage(Construct):
    def __init__(self, scope: Construct, id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, id)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY

        # One key for data at rest (buckets, stream, EMR disks, Athena results):
        # one key policy to audit, one key in CloudTrail. Rotation yearly.
        self.data_key = kms.Key(
            self,
            "DataKey",
            alias=f"alias/{config.prefix}/data",
            description="AuthPulse data at rest: S3, Kinesis, EMR local disks, Athena results",
            enable_key_rotation=True,
            removal_policy=removal,
        )

        abort_uploads = Duration.days(7)  # half-written multipart uploads cost money forever otherwise
        noncurrent = Duration.days(config.noncurrent_versions_expiry_days)

        # Server access logs and flow logs: SSE-S3, the default encryption AWS documents for
        # both log deliveries without key-policy grants to the log services, which keeps the
        # data key's policy to this project's own principals. The logs hold request and flow
        # metadata (who asked for which key, which address talked to which), not the data.
        self.logs = s3.Bucket(
            self,
            "LogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-logs", expiration=Duration.days(config.access_logs_expiry_days),
                                 abort_incomplete_multipart_upload_after=abort_uploads),
            ],
            removal_policy=removal,
            auto_delete_objects=False,
        )
        Validations.of(self.logs).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-S1",
            reason="This is the access-log bucket the other buckets log to; logging it to itself would log its own log "
            "deliveries, and logging it to another bucket only moves the question there.",
        ))

        self.raw = self._bucket(
            "RawBucket",
            removal,
            [
                s3.LifecycleRule(
                    id="tier-then-expire-raw",
                    transitions=[_TIERING],
                    expiration=Duration.days(config.raw_expiry_days),
                    noncurrent_version_expiration=noncurrent,
                    abort_incomplete_multipart_upload_after=abort_uploads,
                ),
                # An expired file leaves a delete marker over its last version; remove the marker once that is gone.
                s3.LifecycleRule(id="remove-expired-delete-markers", expired_object_delete_marker=True),
            ],
            versioned=True,
        )
        self.curated = self._bucket(
            "CuratedBucket",
            removal,
            [s3.LifecycleRule(id="tier-warehouse", transitions=[_TIERING], abort_incomplete_multipart_upload_after=abort_uploads)],
        )
        self.aggregates = self._bucket(
            "AggregatesBucket",
            removal,
            [
                s3.LifecycleRule(id="tier-aggregates", transitions=[_TIERING], abort_incomplete_multipart_upload_after=abort_uploads),
                # Query results are re-creatable; keep them long enough to page through.
                s3.LifecycleRule(id="expire-athena-results", prefix=ATHENA_RESULTS_PREFIX, expiration=Duration.days(config.athena_results_expiry_days)),
            ],
        )
        self.pipes = self._bucket(
            "PipesBucket",
            removal,
            [
                s3.LifecycleRule(id="tier-pipes", transitions=[_TIERING], noncurrent_version_expiration=noncurrent,
                                 abort_incomplete_multipart_upload_after=abort_uploads),
                s3.LifecycleRule(id="remove-expired-delete-markers", expired_object_delete_marker=True),
                # Pipes context/messages matter only while a run is being reported.
                s3.LifecycleRule(id="expire-pipes-messages", prefix=PIPES_PREFIX, expiration=Duration.days(config.pipes_messages_expiry_days)),
                s3.LifecycleRule(id="expire-emr-logs", prefix=EMR_LOGS_PREFIX, expiration=Duration.days(config.emr_logs_expiry_days)),
            ],
            versioned=True,
        )
        self.buckets: dict[str, s3.Bucket] = {
            "raw": self.raw,
            "curated": self.curated,
            "aggregates": self.aggregates,
            "pipes": self.pipes,
        }

    def _bucket(self, id: str, removal: RemovalPolicy, rules: list[s3.LifecycleRule], versioned: bool = False) -> s3.Bucket:
        name = id.removesuffix("Bucket").lower()
        return s3.Bucket(
            self,
            id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.data_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            lifecycle_rules=rules,
            versioned=versioned,
            server_access_logs_bucket=self.logs,
            server_access_logs_prefix=f"{S3_ACCESS_LOGS_PREFIX}{name}/",
            removal_policy=removal,
            # Emptying is a deliberate step of the tear-down runbook, not a
            # Lambda that deletes data when the stack goes.
            auto_delete_objects=False,
        )

    # URIs the runtime is configured with (see outputs.py).
    @property
    def warehouse_uri(self) -> str:
        return f"s3://{self.curated.bucket_name}/{WAREHOUSE_PREFIX}"

    @property
    def raw_uri(self) -> str:
        return f"s3://{self.raw.bucket_name}/{RAW_PREFIX}"

    @property
    def artifacts_uri(self) -> str:
        return f"s3://{self.pipes.bucket_name}/{ARTIFACTS_PREFIX}"

    @property
    def athena_output_uri(self) -> str:
        return f"s3://{self.aggregates.bucket_name}/{ATHENA_RESULTS_PREFIX}"

    @property
    def emr_log_uri(self) -> str:
        return f"s3://{self.pipes.bucket_name}/{EMR_LOGS_PREFIX}"
