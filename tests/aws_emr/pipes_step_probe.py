"""Stands in for ``python -m authpulse_dagster.steps`` on the fake cluster.

The real steps write Iceberg through Spark, which the fake cluster (this
interpreter, no YARN) cannot run. Everything around the Spark work is the real
entry point's: the same arguments, ``Settings.from_env()`` on the environment
the step was given, Pipes opened with the entry point's own ``open_pipes`` (CLI
arguments, context and messages on S3) and results sent with its ``report``.
The work itself: count the landed file's lines in the raw zone and check the
warehouse bucket exists (so a missing bucket fails the step, as a real write would).
"""

from __future__ import annotations

import argparse

from authpulse_dagster.aws import aws_client
from authpulse_dagster.settings import Settings
from authpulse_dagster.steps.__main__ import open_pipes, report
from authpulse_dagster.steps.context import StepResult


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step")
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--dagster-pipes-context")
    parser.add_argument("--dagster-pipes-messages")
    args = parser.parse_args()
    settings = Settings.from_env()
    aws = settings.require_aws()
    s3 = aws_client("s3", settings)
    with open_pipes(settings) as pipes:
        warehouse_bucket = aws.warehouse_uri[len("s3://"):].split("/", 1)[0]
        try:
            s3.head_bucket(Bucket=warehouse_bucket)
        except Exception as exc:  # HeadBucket's 404 names no bucket; the message must
            raise RuntimeError(f"cannot write the warehouse: bucket {warehouse_bucket}: {exc}") from exc
        raw_bucket, _, prefix = aws.raw_uri[len("s3://"):].partition("/")
        body = s3.get_object(Bucket=raw_bucket, Key=f"{prefix}/lanl2014/auth.txt")["Body"].read()
        result = StepResult(metadata={"raw_events": {"rows": len(body.splitlines()), "table": "authpulse.raw_events",
                                                     "run_id": args.run_id, "days": f"{args.start}..{args.end}"}})
        report(pipes, result)


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:
        import sys

        print(f"probe failed: {exc}", file=sys.stderr)
        raise
