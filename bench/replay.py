"""Replay producer benchmark: `authpulse replay` against a bare boto3 put_records loop.

    python bench/replay.py --events 50000 [--repeat 5] [--shards 32]

Generates N events, starts its own moto server (``local_stack.up`` on a free
port, temporary data home) and measures, in the same run and against the same
server, the producer's throughput (no rate limit, no progress bar: reading,
encoding, batching, checkpointing and sending) and that of the least a client
can do: ``put_records`` over the same records, already encoded, 500 per call,
no retries; once with the client's defaults (the target) and once without
parameter validation, as the producer's client runs (like for like). Runs alternate between the two, each into a fresh stream, so drift
of the machine or the server hits both alike; figures are medians. The target
is a producer within 10% of the bare loop.

moto's PutRecords costs grow with the records already in a shard (it finds the
last sequence number by listing the shard's keys for every record), so the
streams get many shards (``--shards``): with few, a large run measures moto's
quadratic slowdown rather than either client.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EVENTS_PER_USER_DAY = 100.0


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {mem:.1f} GiB RAM; python {platform.python_version()}"


def make_input(work: Path, events: int, seed: int) -> Path:
    """Exactly ``events`` generated lines, gzip-compressed like a real LANL file."""
    from authpulse_dagster.lanl.generator import generate

    raw = work / "generated.txt.gz"
    # Day 0 is a Monday (busier than average): one day of this many users gives more than enough.
    users = max(10, round(events / EVENTS_PER_USER_DAY))
    stats = generate(raw, users=users, computers=2 * users, days=1, seed=seed, progress=False)
    if stats.events < events:
        sys.exit(f"generator gave {stats.events} events, fewer than {events}; raise EVENTS_PER_USER_DAY")
    with gzip.open(raw, "rb") as src:
        lines = src.read().split(b"\n")[:events]
    out = work / "events.txt.gz"
    out.write_bytes(gzip.compress(b"\n".join(lines) + b"\n", compresslevel=6, mtime=0))
    raw.unlink()
    return out


def new_stream(settings, name: str, shards: int) -> str:
    from authpulse_dagster.aws import aws_client

    kinesis = aws_client("kinesis", settings)
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return name


def drop_stream(settings, name: str) -> None:
    from authpulse_dagster.aws import aws_client

    aws_client("kinesis", settings).delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def encoded_records(path: Path, settings) -> list[dict]:
    """The producer's own records for the file, so both sides send identical bytes."""
    from authpulse_dagster.live.replay_chunks import MAX_RECORDS_PER_CALL, encode_chunks

    chunks = encode_chunks(path, "lanl2014", settings, after_line=0, window=(None, None), pacer=None,
                           max_records=MAX_RECORDS_PER_CALL, limit=None)  # fmt: skip
    return [entry for c in chunks for entry in c.entries]


def run_producer(path: Path, settings, stream: str, events: int) -> float:
    from authpulse_dagster.live.producer import replay

    t = time.perf_counter()
    report = replay(path, "lanl2014", settings, stream=stream, progress=False)
    seconds = time.perf_counter() - t
    if report.sent != events or report.failed:
        sys.exit(f"producer sent {report.sent} of {events} ({report.failed} failed)")
    return events / seconds


def run_minimal(records: list[dict], settings, stream: str, validate: bool = True) -> float:
    from botocore.config import Config

    from authpulse_dagster.aws import aws_client

    t = time.perf_counter()
    kinesis = aws_client("kinesis", settings, config=Config(parameter_validation=validate))
    failed = 0
    for i in range(0, len(records), 500):
        failed += kinesis.put_records(StreamName=stream, Records=records[i : i + 500])["FailedRecordCount"]
    seconds = time.perf_counter() - t
    if failed:
        sys.exit(f"minimal loop: {failed} records failed (moto does not throttle; something is wrong)")
    return len(records) / seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--shards", type=int, default=32)
    p.add_argument("--seed", type=int, default=11)
    args = p.parse_args()

    from authpulse_dagster import local_stack
    from authpulse_dagster.aws import local_aws_environment
    from authpulse_dagster.settings import Settings

    # SIGTERM (e.g. from `timeout`) must still run the finally below, which stops the moto server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="authpulse-bench-replay-"))
    home = work / "home"
    os.environ["AUTHPULSE_HOME"] = str(home)
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    settings = Settings.from_env()
    try:
        print(f"machine: {machine()}")
        t = time.perf_counter()
        data = make_input(work, args.events, args.seed)
        print(f"input: {args.events:,} events, gzip {data.stat().st_size / 2**20:.1f} MiB, made in {time.perf_counter() - t:.1f} s")
        stack = local_stack.up(settings, port=local_stack.find_free_port())
        os.environ.update(local_aws_environment(stack.endpoint, settings.region))
        print(f"moto server: {stack.endpoint} (pid {stack.pid}), streams with {args.shards} shards")
        records = encoded_records(data, settings)
        mib = sum(len(r["Data"]) for r in records) / 2**20
        print(f"records: {len(records):,}, {mib:.1f} MiB of data")

        rates: dict[str, list[float]] = {"producer": [], "minimal": [], "minimal-nv": []}
        kinds = list(rates)
        for i in range(args.repeat):
            for kind in kinds[i % 3 :] + kinds[: i % 3]:  # rotate the order between runs
                stream = new_stream(settings, f"bench-{kind}-{i}", args.shards)
                if kind == "producer":
                    rate = run_producer(data, settings, stream, args.events)
                else:
                    rate = run_minimal(records, settings, stream, validate=kind == "minimal")
                drop_stream(settings, stream)
                rates[kind].append(rate)
                print(f"  run {i + 1}/{args.repeat} {kind:<10} {rate:>10,.0f} events/s", flush=True)

        prod, base, bare = (statistics.median(rates[k]) for k in kinds)
        print(f"\nmedians of {args.repeat} runs, {args.events:,} events, {args.shards} shards")
        print(f"  producer (authpulse replay, no rate limit, no progress bar): {prod:>8,.0f} events/s")
        print(f"  minimal boto3 put_records loop (client defaults):          {base:>8,.0f} events/s")
        print(f"  minimal loop without parameter validation (as the producer): {bare:>6,.0f} events/s")
        print(f"  ratio producer/minimal: {prod / base:.3f} (target >= 0.90); "
              f"producer/minimal without validation: {prod / bare:.3f}")
    finally:
        local_stack.down(settings)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
