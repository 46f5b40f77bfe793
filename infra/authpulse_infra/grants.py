"""IAM statements scoped to AuthPulse's own resources, written out by hand.

Not CDK's ``grant_*`` helpers: those add action wildcards (``s3:List*``,
``s3:GetObject*``, ``kms:ReEncrypt*``) that are fine but hard to review. Here
every action is named, every resource is one of ours, and the tests check both.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

S3_READ_OBJECT = ["s3:GetObject"]
S3_WRITE_OBJECT = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
S3_READ_BUCKET = ["s3:ListBucket", "s3:GetBucketLocation"]
S3_WRITE_BUCKET = ["s3:ListBucketMultipartUploads"]

# S3 calls KMS on the caller's behalf: GenerateDataKey to write, Decrypt to read
# (and to complete multipart uploads). Kinesis does the same for the stream.
KMS_USE = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]


def bucket_read(sid: str, buckets: list[s3.IBucket]) -> list[iam.PolicyStatement]:
    return [
        iam.PolicyStatement(sid=f"{sid}Bucket", actions=S3_READ_BUCKET, resources=[b.bucket_arn for b in buckets]),
        iam.PolicyStatement(sid=f"{sid}Objects", actions=S3_READ_OBJECT, resources=[b.arn_for_objects("*") for b in buckets]),
    ]


def bucket_read_write(sid: str, buckets: list[s3.IBucket]) -> list[iam.PolicyStatement]:
    return [
        iam.PolicyStatement(sid=f"{sid}Bucket", actions=S3_READ_BUCKET + S3_WRITE_BUCKET, resources=[b.bucket_arn for b in buckets]),
        iam.PolicyStatement(
            sid=f"{sid}Objects",
            actions=S3_READ_OBJECT + S3_WRITE_OBJECT,
            resources=[b.arn_for_objects("*") for b in buckets],
        ),
    ]


def key_use(sid: str, keys: list[kms.IKey], actions: list[str] | None = None) -> iam.PolicyStatement:
    return iam.PolicyStatement(sid=sid, actions=actions or KMS_USE, resources=[k.key_arn for k in keys])
