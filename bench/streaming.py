"""Streaming benchmark: sustained events/s, end-to-end latency and memory of the streaming job.

    python bench/streaming.py [--rate 5000] [--seconds 60] [--triggers 30,2]
    python bench/streaming.py --preload 2600000 [--max-records 50000] [--refresh-seconds 0] [--read-only]

``--preload N``: one day of N generated LANL-2014 events is put into Kinesis
first, then the streaming query drains it with a fixed ``maxRecordsPerBatch``
(in this process). It prints the per-batch series (records, seconds, whether
gold/risk were refreshed and how long that took), the median batch seconds of
the first and last third of the day and their ratio, events/s, the size of the
dedup state in the checkpoint and the peak memory of the driver and the JVM. With ``--read-only`` the query is the
Kinesis source alone (each batch is counted, nothing is written, no state):
the read rate that bounds everything else.

For each trigger interval: a fresh data home and moto server, the streaming
job started as the Dagster resource starts it (a detached process), and the
replay producer sending generated LANL data at ``--rate`` for ``--seconds``.
It reports:

- sustained events/s: events delivered to silver / (last silver commit - first send);
- end-to-end latency per event: the commit time of the silver snapshot that made
  it readable minus its Kinesis arrival time (``arrival_ts`` in bronze, stamped
  by the Kinesis endpoint at PutRecords), p50/p95/max;
- lag over time: MillisBehindLatest and processing lag from the job's status file,
  first vs last third of the run, to see whether it grows;
- peak resident memory (VmHWM) of the job's Python driver and its Spark JVM.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(proc.name))
            except (OSError, ValueError, IndexError):
                continue
    return out


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run_one(trigger: float, rate: float, seconds: float, work: Path) -> dict:
    home = work / f"trigger-{trigger:g}"
    os.environ["AUTHPULSE_HOME"] = str(home)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from authpulse_dagster import local_stack
    from authpulse_dagster.local_stack import apply_local_environment
    from authpulse_dagster.lakehouse.catalog import load_catalog
    from authpulse_dagster.lanl.generator import generate
    from authpulse_dagster.live.producer import replay
    from authpulse_dagster.resources.streaming import StreamingJobResource
    from authpulse_dagster.settings import Settings

    os.environ["AUTHPULSE_MOTO_PORT"] = str(local_stack.find_free_port())
    # moto's PutRecords slows down as a shard fills; enough shards keep it from capping the producer.
    os.environ.setdefault("AUTHPULSE_STREAM_SHARDS", "16")
    settings = Settings.from_env()
    local_stack.up(settings)
    apply_local_environment(settings)
    events = int(rate * seconds)
    # Three weekdays at ~100 events per user per day: a little more than needed; replay stops at the limit.
    users = max(50, events // 250)
    data = work / f"events-{trigger:g}.txt.gz"
    generate(data, users=users, computers=2 * users, days=3, seed=5, progress=False)

    job = StreamingJobResource(trigger_seconds=trigger, max_records_per_batch=max(10_000, int(rate * trigger * 2)))
    job.start()
    # Wait for the job's first (empty) batch so Spark start-up is not counted as latency.
    deadline = time.monotonic() + 120
    while job.status().last_batch_id is None and time.monotonic() < deadline:
        time.sleep(0.5)
    pid = job.status().pid
    peaks = {"driver": 0.0, "jvm": 0.0}
    lag_samples: list[tuple[float, int | None, int | None]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if pid:
                peaks["driver"] = max(peaks["driver"], hwm_mb(pid) or 0)
                for child in children(pid):
                    peaks["jvm"] = max(peaks["jvm"], hwm_mb(child) or 0)
            st = job.status()
            lag_samples.append((time.monotonic(), st.millis_behind_latest, st.processing_lag_ms))
            time.sleep(1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.time()
    report = replay(data, "lanl2014", settings, rate=rate, limit=events, progress=False)
    catalog = load_catalog(settings)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        bronze = catalog.load_table("authpulse.raw_events").scan(selected_fields=("event_id",)).to_arrow().num_rows
        if bronze >= report.sent:
            break
        time.sleep(2)
    time.sleep(trigger + 2)
    stop.set()
    watcher.join()
    job.stop()
    local_stack.down(settings)

    import pyarrow.parquet as pq

    silver = catalog.load_table("authpulse.auth_events")
    arrivals = catalog.load_table("authpulse.raw_events").scan(selected_fields=("event_id", "arrival_ts")).to_arrow()
    arrival = dict(zip(arrivals["event_id"].to_pylist(), (t.timestamp() for t in arrivals["arrival_ts"].to_pylist())))
    latencies, commits = [], []
    entries = silver.inspect.entries().to_pylist()
    for e in entries:
        if e["status"] != 1:  # 1 = ADDED
            continue
        commit = silver.snapshot_by_id(e["snapshot_id"]).timestamp_ms / 1000
        commits.append(commit)
        ids = pq.read_table(e["data_file"]["file_path"].replace("file://", ""), columns=["event_id"])["event_id"].to_pylist()
        latencies += [commit - arrival[i] for i in ids if i in arrival]
    delivered = len(latencies)
    third = max(1, len(lag_samples) // 3)
    early = [s[1] for s in lag_samples[:third] if s[1] is not None]
    late = [s[1] for s in lag_samples[-third:] if s[1] is not None]
    return {
        "trigger": trigger,
        "sent": report.sent,
        "send_seconds": report.seconds,
        "delivered": delivered,
        "sustained_eps": delivered / (max(commits) - started) if commits else 0.0,
        "p50": percentile(latencies, 0.50) if latencies else None,
        "p95": percentile(latencies, 0.95) if latencies else None,
        "max": max(latencies) if latencies else None,
        "behind_early_ms": statistics.median(early) if early else None,
        "behind_late_ms": statistics.median(late) if late else None,
        "driver_mb": peaks["driver"],
        "jvm_mb": peaks["jvm"],
    }


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def drain_source_only(spark, settings, checkpoint: Path, max_records: int) -> list[tuple[int, int, float]]:
    """(batch id, records, seconds) of draining the stream with the Kinesis source alone."""
    from authpulse_dagster.live.kinesis_source import register

    register(spark)
    series: list[tuple[int, int, float]] = []
    last = [time.monotonic()]

    def count(df, batch_id: int) -> None:
        n = df.count()
        now = time.monotonic()
        series.append((batch_id, n, now - last[0]))
        last[0] = now

    query = (
        spark.readStream.format("kinesis").option("streamName", settings.stream_name).option("region", settings.region)
        .option("startingPosition", "TRIM_HORIZON").option("maxRecordsPerBatch", str(max_records)).load()
        .writeStream.foreachBatch(count).option("checkpointLocation", str(checkpoint)).trigger(processingTime="0 seconds").start()
    )
    query.processAllAvailable()
    query.stop()
    return series


def run_drain(events: int, max_records: int, refresh_seconds: float, work: Path, read_only: bool = False) -> None:
    """Pre-load one day into Kinesis, drain it in fixed-size micro-batches, print the per-batch series."""
    os.environ["AUTHPULSE_HOME"] = str(work / "home")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from authpulse_dagster import local_stack
    from authpulse_dagster.local_stack import apply_local_environment
    from authpulse_dagster.lanl.generator import generate
    from authpulse_dagster.live.producer import replay
    from authpulse_dagster.live.stream_job import drain, start_query
    from authpulse_dagster.settings import Settings
    from authpulse_dagster.spark import get_spark

    os.environ["AUTHPULSE_MOTO_PORT"] = str(local_stack.find_free_port())
    os.environ.setdefault("AUTHPULSE_STREAM_SHARDS", "16")
    settings = Settings.from_env()
    local_stack.up(settings)
    try:
        apply_local_environment(settings)
        data = work / "day.txt.gz"
        stats = generate(data, users=max(50, events // 100), computers=max(100, events // 50), days=1, seed=7, progress=False)
        t = time.monotonic()
        sent = replay(data, "lanl2014", settings, limit=events, progress=False).sent
        print(f"pre-loaded {sent:,} of {stats.events:,} generated events into {settings.stream_shards} shards "
              f"in {time.monotonic() - t:.0f} s", flush=True)
        spark = get_spark(settings, "authpulse-stream-bench")
        checkpoint = work / "checkpoint"
        peaks = {"driver": 0.0, "jvm": 0.0}
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                peaks["driver"] = max(peaks["driver"], hwm_mb(os.getpid()) or 0)
                for child in children(os.getpid()):
                    peaks["jvm"] = max(peaks["jvm"], hwm_mb(child) or 0)
                time.sleep(1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        t = time.monotonic()
        if read_only:
            series = drain_source_only(spark, settings, checkpoint, max_records)
            wall = time.monotonic() - t
            stop.set()
            watcher.join()
            print("batch  records  seconds")
            for batch_id, n, seconds in series:
                print(f"{batch_id:>5}  {n:>7,}  {seconds:>7.1f}")
            total = sum(n for _, n, _ in series)
            print(f"source alone: {total:,} records in {wall:.0f} s wall ({total / wall:,.0f} records/s), "
                  f"batches of <= {max_records:,}; peak RSS driver {peaks['driver']:,.0f} MiB, JVM {peaks['jvm']:,.0f} MiB",
                  flush=True)
            return
        query, processor = start_query(spark, settings, str(checkpoint), trigger_seconds=0, max_records=max_records,
                                       publish_metrics=False, refresh_seconds=refresh_seconds)
        drain(query, processor)
        wall = time.monotonic() - t
        stop.set()
        watcher.join()
        batches = [b for b in processor.history if b.records]
        print("batch  records  seconds  refreshed  refresh_s  redelivered  phases (s)")
        for b in batches:
            parts = " ".join(f"{k}={v:.1f}" for k, v in b.phases.items())
            print(f"{b.batch_id:>5}  {b.records:>7,}  {b.batch_seconds:>7.1f}  {str(b.refreshed):>9}  "
                  f"{b.refresh_seconds:>9.1f}  {b.redelivered:>11,}  {parts}")
        third = max(1, len(batches) // 3)
        first = statistics.median(b.batch_seconds for b in batches[:third])
        last = statistics.median(b.batch_seconds for b in batches[-third:])
        total = sum(b.records for b in batches)
        busy = sum(b.batch_seconds for b in batches)
        print(f"{len(batches)} batches of <= {max_records:,} records, refresh every {refresh_seconds:g} s: "
              f"median batch {first:.1f} s (first third) vs {last:.1f} s (last third), ratio {last / first:.2f}; "
              f"{total:,} events in {wall:.0f} s wall ({total / wall:,.0f} events/s; {total / busy:,.0f}/s in batches); "
              f"dedup state {dir_bytes(checkpoint / 'state') / 2**20:.1f} MiB on disk; "
              f"peak RSS driver {peaks['driver']:,.0f} MiB, JVM {peaks['jvm']:,.0f} MiB", flush=True)
        query.stop()
    finally:
        local_stack.down(settings)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=5000)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--triggers", default="30,2")
    p.add_argument("--preload", type=int, default=0, help="pre-load this many events of one day, then drain")
    p.add_argument("--max-records", type=int, default=50_000)
    p.add_argument("--refresh-seconds", type=float, default=0.0)
    p.add_argument("--read-only", action="store_true", help="with --preload: the Kinesis source alone, nothing written")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="authpulse-stream-bench-"))
    if args.preload:
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
              f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB")
        try:
            run_drain(args.preload, args.max_records, args.refresh_seconds, work, args.read_only)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; target {args.rate:,.0f} events/s for {args.seconds:g} s")
    try:
        for trigger in [float(t) for t in args.triggers.split(",")]:
            r = run_one(trigger, args.rate, args.seconds, work)
            print(
                f"trigger {r['trigger']:g}s: sent {r['sent']:,} in {r['send_seconds']:.1f}s "
                f"({r['sent'] / r['send_seconds']:,.0f}/s), delivered {r['delivered']:,}, "
                f"sustained {r['sustained_eps']:,.0f} events/s; latency p50 {r['p50']:.1f}s p95 {r['p95']:.1f}s max {r['max']:.1f}s; "
                f"MillisBehindLatest early {r['behind_early_ms']} ms, late {r['behind_late_ms']} ms; "
                f"peak RSS driver {r['driver_mb']:,.0f} MiB, JVM {r['jvm_mb']:,.0f} MiB",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
