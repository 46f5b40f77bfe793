"""The Kinesis stream the replay producer writes and the streaming job reads.

Provisioned mode with a shard-count parameter rather than on-demand: the
producer's rate is known (``--rate``), a shard costs a fixed amount per hour,
and on-demand adds a per-stream hourly charge plus per-GB charges that cost
more than the 1-4 shards AuthPulse needs (see docs/deploy-aws.md, costs).
Retention stays at the 24-hour default (anything longer is billed per
shard-hour); the iterator-age alarm fires at half of it.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from constructs import Construct

from authpulse_infra.config import InfraConfig
from authpulse_infra.nag import acknowledge


class Streaming(Construct):
    def __init__(self, scope: Construct, id: str, *, config: InfraConfig, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self.stream = kinesis.Stream(
            self,
            "Events",
            stream_name=config.stream_name,
            stream_mode=kinesis.StreamMode.PROVISIONED,
            shard_count=config.stream_shards,
            retention_period=Duration.hours(config.stream_retention_hours),
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=key,
            # A 24-hour buffer, not a store: bronze keeps every record.
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.stream, "AwsSolutions-KDS3",
            "The project's customer-managed data key on purpose: one key, one key policy and one CloudTrail record for all "
            "data at rest (buckets, stream, EMR disks), rotated yearly and usable only by this stack's principals; the "
            "aws/kinesis key's policy cannot be narrowed. Kinesis reuses each data key for minutes, so the "
            "KMS request cost does not grow per record.",
        )
