"""The streaming job: Kinesis → bronze → silver/quarantine → gold, one micro-batch at a time.

Run it with ``python -m authpulse_dagster.live.stream_job`` (or spark-submit
the file). In the streaming plan, every record becomes a bronze row
(``bronze_from_kinesis``) and is marked against Structured Streaming state
(``live/dedup_state.py``: redelivered copies found by event id in a RocksDB
state store, not by rescanning silver). Then each micro-batch, through
``foreachBatch``:

1. lands every record in ``raw_events`` (nothing dropped, redeliveries included);
2. parses and validates with the batch path's functions: bad records go to
   ``quarantine`` with a reason, never a crash;
3. splits off events behind the watermark (5 minutes behind the newest event
   time seen before the batch): they stay in bronze, are counted and listed in
   ``late_events`` for a backfill, and do not enter silver;
4. appends the rest to ``auth_events``;
5. refreshes gold and risk for the days the batch touched, walking the same
   pipeline registry the batch assets are built from (``pipeline.stream_steps``),
   at most every ``--refresh-seconds`` (the ingest above costs the batch's own
   records; the refresh costs the day so far, see the README's live-path section);
6. publishes CloudWatch metrics and writes a status file the Dagster resource reads.

Exactly once: every append is tagged with the stream id and batch id and is
skipped when Spark replays a batch that already landed (``live.sink``); gold
day-replacement is idempotent by construction.
"""

from __future__ import annotations

import argparse
from collections import deque
import hashlib
import json
import logging
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from authpulse_dagster.lakehouse import spark_tables
from authpulse_dagster.lakehouse.schemas import AUTH_EVENTS, LATE_EVENTS, QUARANTINE, RAW_EVENTS
from authpulse_dagster.live import metrics
from authpulse_dagster.live.dedup_state import REDELIVERED, ROCKSDB, as_bronze, kept_before, mark_redeliveries, to_parse
from authpulse_dagster.live.sink import ALREADY, append_once, summary_before
from authpulse_dagster.live.stream_transforms import bronze_from_kinesis, late_rows, split_late, watermark_from
from authpulse_dagster.live.status import STATUS_FILE
from authpulse_dagster.pipeline import stream_steps
from authpulse_dagster.settings import Settings
from authpulse_dagster.spark import use_catalog
from authpulse_dagster.steps.context import StepContext
from authpulse_dagster.transforms.silver import deduplicate, parse, quarantine_rows, valid_events
from authpulse_dagster.transforms.validation import ParseOptions

log = logging.getLogger("authpulse.stream")
SHARD_MAX_EVENT_TS = "authpulse.stream_shard_max_event_ts"
DEDUP_TTL_HOURS = 24.0  # how long a redelivered copy is still recognised (dedup_state.py)


@dataclass
class BatchReport:
    batch_id: int
    records: int
    quarantined: int
    late: int
    silver_rows: int
    days: list[str]
    batch_seconds: float
    millis_behind_latest: int | None
    processing_lag_ms: int | None  # batch end - the oldest Kinesis arrival in it: the longest any record waited
    skipped_tables: list[str]
    finished_at: str
    redelivered: int = 0  # copies of events already kept (bronze only)
    refreshed: bool = False  # gold and risk refreshed after this batch
    refresh_seconds: float = 0.0
    alerts_sent: int = 0
    alert_error: str | None = None  # delivery failed; the next batch for the day (or the daily run) retries
    # Seconds per phase, to see where a batch's time goes ("read+dedup" is the source and the state
    # store: Spark runs them when the batch's first action asks for its rows).
    phases: dict[str, float] = field(default_factory=dict)
    records_per_second: float | None = None
    state_rows: int | None = None  # the dedup state after the previous batch (metrics.state_store)
    state_bytes: int | None = None


def stream_id_for(stream: str, checkpoint: str) -> str:
    """One id per (stream, checkpoint): a new checkpoint is a new stream as far as the tables know."""
    return hashlib.sha1(f"{stream}|{checkpoint}".encode()).hexdigest()[:16]


class BatchProcessor:
    """The ``foreachBatch`` function, with what it needs between batches."""

    def __init__(
        self, settings: Settings, stream_id: str, stream_name: str, publish_metrics: bool = True, refresh_seconds: float = 0.0
    ):
        self.settings = settings
        self.refresh_seconds = refresh_seconds
        self._pending_days: set = set()  # touched since the last refresh
        self._pending_batch_id = -1  # the batch that touched them last
        # The first refresh, like every other, comes refresh_seconds after the last: a restarted job
        # ingests its backlog first instead of rebuilding gold before its first batch.
        self._last_refresh = time.monotonic()
        self.stream_id = stream_id
        self.stream_name = stream_name
        self.publish_metrics = publish_metrics
        self.opts = ParseOptions(settings.dataset_epoch, settings.max_line_bytes, settings.max_dataset_seconds)
        self.last: BatchReport | None = None
        self.query = None  # set by start_query: its last progress gives the state store's size
        # Recent batches (bounded: the job runs for days); the demo reads them to report.
        self.history: deque[BatchReport] = deque(maxlen=10_000)

    def __call__(self, records: DataFrame, batch_id: int) -> None:
        try:
            self.last = self.process(records, batch_id)
        except Exception as exc:
            # Record content never gets here (it is quarantined); this is the machine or a bug. Say so
            # where `stream status` and the streaming-health sensor look, then let Spark fail the query.
            write_status(self.settings, {**(asdict(self.last) if self.last else {}), "state": "failed", "pid": os.getpid(),
                                         "failed_batch_id": batch_id, "error": first_line(exc)})
            raise
        rows, size = metrics.state_store(self.query.lastProgress if self.query is not None else None)
        self.last.state_rows, self.last.state_bytes = rows, size
        self.history.append(self.last)
        write_status(self.settings, {"state": "running", "pid": os.getpid(), **asdict(self.last)})
        if self.publish_metrics:
            metrics.publish(
                self.settings,
                self.stream_name,
                metrics.BatchMetrics(
                    self.last.records, self.last.quarantined, self.last.late, self.last.batch_seconds,
                    self.last.millis_behind_latest, self.last.processing_lag_ms, self.last.records_per_second,
                    self.last.state_rows, self.last.state_bytes,
                ),
            )

    def process(self, records: DataFrame, batch_id: int) -> BatchReport:
        started = time.monotonic()
        phases: dict[str, float] = {}
        mark = [started]

        def phase(name: str) -> None:
            now = time.monotonic()
            phases[name] = round(phases.get(name, 0.0) + now - mark[0], 3)
            mark[0] = now

        spark = records.sparkSession
        use_catalog(spark, self.settings)  # a no-op in the job; a processor driven by hand may share a session
        skipped: list[str] = []
        added: dict[str, int] = {}

        def append(table_def, df: DataFrame, props=None) -> None:
            status, rows = append_once(df, table_def, self.stream_id, batch_id, props)
            added[table_def.name] = rows
            if status == ALREADY:
                skipped.append(table_def.name)

        # ``records`` are bronze rows marked against the dedup state (see start_query).
        records = records.persist(StorageLevel.MEMORY_AND_DISK)
        stats = records.agg(
            F.count(F.lit(1)).alias("n"),
            F.max("millis_behind_latest").alias("behind"),
            # The record that waited longest: after a stall the catch-up batch also holds fresh records,
            # so the newest arrival would hide the lag the stall caused.
            F.min("arrival_ts").alias("oldest_arrival"),
            F.sum((F.col("delivery") == REDELIVERED).cast("long")).alias("redelivered"),
        ).first()
        phase("read+dedup")
        # ingested_at is fixed per batch (a replayed batch is skipped by the sink before it lands).
        ingested_at = datetime.now(timezone.utc)
        bronze = as_bronze(records).withColumn("ingested_at", F.lit(ingested_at).cast("timestamp"))
        append(RAW_EVENTS, bronze)
        phase("bronze")

        parsing = to_parse(bronze)
        parsed = parse(parsing.drop("delivery", "millis_behind_latest"), self.opts).persist(StorageLevel.MEMORY_AND_DISK)
        append(QUARANTINE, quarantine_rows(parsed))
        phase("parse+quarantine")

        # A line the source repeats, whose first copy went to silver in an earlier batch, is a duplicate.
        valid = valid_events(parsed).join(kept_before(parsing), "event_id", "left_anti")
        per_shard = valid.groupBy("shard_id").agg(F.max("event_ts").alias("t"), F.collect_set("event_date").alias("days"))
        per_shard = per_shard.collect()
        days = sorted({d for r in per_shard for d in r["days"]})
        # Watermark state as it was before this batch, so a replayed batch splits the same way.
        state = summary_before(spark, AUTH_EVENTS, self.stream_id, batch_id) or {}
        shard_max = {k: datetime.fromisoformat(v) for k, v in json.loads(state.get(SHARD_MAX_EVENT_TS, "{}")).items()}
        watermark = watermark_from(shard_max, delivering=[r["shard_id"] for r in per_shard])
        phase("watermark")

        # Copies across batches were marked in state; within a batch the state saw them together.
        events = deduplicate(valid).persist(StorageLevel.MEMORY_AND_DISK)
        on_time, late = split_late(events, watermark)
        if watermark:
            append(LATE_EVENTS, late_rows(late, watermark, batch_id, bronze))

        for row in per_shard:
            t = row["t"].astimezone(timezone.utc)
            shard_max[row["shard_id"]] = max(t, shard_max.get(row["shard_id"], t))
        state_props = {SHARD_MAX_EVENT_TS: json.dumps({k: v.isoformat() for k, v in shard_max.items()})}
        append(AUTH_EVENTS, on_time, state_props if shard_max else None)
        phase("silver")

        alerts_sent, alert_error, refreshed, refresh_s = 0, None, False, 0.0
        self._pending_days.update(days)
        self._pending_batch_id = batch_id
        if self._pending_days and time.monotonic() - self._last_refresh >= self.refresh_seconds:
            refresh_started = time.monotonic()
            alerts_sent, alert_error = self.refresh(spark, sorted(self._pending_days), batch_id)
            self._pending_days.clear()
            self._last_refresh = time.monotonic()
            refreshed, refresh_s = True, round(self._last_refresh - refresh_started, 3)
            phase("refresh")

        oldest = stats["oldest_arrival"]
        lag_ms = int((datetime.now(timezone.utc) - oldest.astimezone(timezone.utc)).total_seconds() * 1000) if oldest else None
        for df in (events, parsed, records):
            df.unpersist()
        seconds = round(time.monotonic() - started, 3)
        return BatchReport(
            batch_id=batch_id,
            records=int(stats["n"]),
            quarantined=added.get(QUARANTINE.name, 0),
            late=added.get(LATE_EVENTS.name, 0),
            silver_rows=added.get(AUTH_EVENTS.name, 0),
            days=[d.isoformat() for d in days],
            batch_seconds=seconds,
            records_per_second=round(int(stats["n"]) / seconds, 1) if seconds > 0 else None,
            millis_behind_latest=stats["behind"],
            processing_lag_ms=lag_ms,
            skipped_tables=skipped,
            finished_at=datetime.now(timezone.utc).isoformat(),
            alerts_sent=alerts_sent,
            alert_error=alert_error,
            redelivered=int(stats["redelivered"] or 0),
            refreshed=refreshed,
            refresh_seconds=refresh_s,
            phases=phases,
        )

    def flush(self) -> None:
        """Refresh the days still pending (the stream stops between refreshes)."""
        if self._pending_days:
            spark = SparkSession.getActiveSession()
            self.refresh(spark, sorted(self._pending_days), self._pending_batch_id)
            self._pending_days.clear()

    def refresh(self, spark: SparkSession, days: list, batch_id: int) -> tuple[int, str | None]:
        """Gold and risk for ``days``, by the batch path's own steps (the pipeline registry)."""
        alerts_sent, alert_error = 0, None
        ctx = StepContext(self.settings, days, run_id=f"stream:{self.stream_id}:{batch_id}", path="stream", open_spark=spark)
        for step in stream_steps():
            if not step.best_effort_in_stream:
                step.run(ctx)
                continue
            try:
                result = step.run(ctx)
                alerts_sent += sum(int(m.get("alerts_published", 0)) for m in result.metadata.values())
            except Exception as exc:  # SNS down or throttled: the alerts are in the table; the next refresh retries
                log.warning("batch %s: %s not done yet: %s", batch_id, step.name, exc)
                alert_error = f"{type(exc).__name__}: {exc}"
        return alerts_sent, alert_error


def first_line(error: BaseException | object) -> str:
    """The first non-empty line of an error (Spark's carry the whole JVM trace after it)."""
    text = str(error).strip()
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return f"{type(error).__name__}: {line}"[:500] if not line.startswith(type(error).__name__) else line[:500]


def status_path(settings: Settings) -> Path:
    return settings.run_dir / STATUS_FILE


def write_status(settings: Settings, status: dict) -> None:
    path = status_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, default=str))
    os.replace(tmp, path)


def streaming_plan(source: DataFrame, opts: ParseOptions, dedup_ttl_hours: float = DEDUP_TTL_HOURS) -> DataFrame:
    """What each micro-batch hands ``BatchProcessor``: Kinesis rows as bronze rows, marked against the dedup state.

    ``ingested_at`` here is a placeholder; the batch stamps its own time.
    """
    bronze = bronze_from_kinesis(source, F.current_timestamp(), opts, keep=("millis_behind_latest",))
    return mark_redeliveries(bronze, dedup_ttl_hours)


def start_query(
    spark: SparkSession,
    settings: Settings,
    checkpoint: str,
    trigger_seconds: float,
    max_records: int,
    publish_metrics: bool = True,
    refresh_seconds: float = 0.0,
    dedup_ttl_hours: float = DEDUP_TTL_HOURS,
):
    """Start the streaming query (see :func:`drain` to run it until the stream is empty)."""
    from authpulse_dagster.live.kinesis_source import register

    register(spark)
    # The batches write ``settings``' lakehouse, whatever the session pointed at before.
    use_catalog(spark, settings)
    # Read when the query first starts; the checkpoint then keeps the provider.
    spark.conf.set("spark.sql.streaming.stateStore.providerClass", ROCKSDB)
    # No batches without data: the dedup state's timeouts would otherwise run one per trigger, each
    # an Iceberg commit of nothing. Expired keys are dropped with the next batch that has data.
    spark.conf.set("spark.sql.streaming.noDataMicroBatches.enabled", "false")
    stream_id = stream_id_for(settings.stream_name, checkpoint)
    processor = BatchProcessor(settings, stream_id, settings.stream_name, publish_metrics, refresh_seconds)
    source = (
        spark.readStream.format("kinesis")
        .option("streamName", settings.stream_name)
        .option("region", settings.region)
        .option("startingPosition", "TRIM_HORIZON")
        .option("maxRecordsPerBatch", str(max_records))
        .load()
    )
    opts = ParseOptions(settings.dataset_epoch, settings.max_line_bytes, settings.max_dataset_seconds)
    writer = streaming_plan(source, opts, dedup_ttl_hours).writeStream.foreachBatch(processor).option("checkpointLocation", checkpoint).queryName("authpulse_stream")
    query = writer.trigger(processingTime=f"{trigger_seconds} seconds").start()
    processor.query = query
    return query, processor


def drain(query, processor: BatchProcessor | None = None) -> None:
    """Process everything the stream holds now, refresh what is pending, then stop.

    Not ``trigger(availableNow=True)``: Spark 4.1 gives Python sources no way
    to support it and falls back to a single micro-batch.
    """
    query.processAllAvailable()
    stop_gracefully(query)
    if processor is not None:
        processor.flush()


def stop_gracefully(query, timeout: float = 120.0) -> None:
    """Let the batch in flight finish, then stop (a replayed batch would be harmless, just slower)."""
    deadline = time.monotonic() + timeout
    while query.isActive and query.status.get("isTriggerActive") and time.monotonic() < deadline:
        time.sleep(0.2)
    query.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m authpulse_dagster.live.stream_job", description=__doc__.splitlines()[0])
    parser.add_argument("--trigger-seconds", type=float, default=30.0, help="micro-batch interval [30]")
    parser.add_argument("--available-now", action="store_true", help="drain the stream, then exit")
    parser.add_argument("--checkpoint", default=None, help="checkpoint location [$AUTHPULSE_HOME/checkpoints/stream]")
    parser.add_argument("--max-records", type=int, default=50_000, help="records per micro-batch at most [50000]")
    parser.add_argument("--refresh-seconds", type=float, default=0.0,
                        help="refresh gold and risk at most this often; 0 = after every batch [0]")
    parser.add_argument("--dedup-ttl-hours", type=float, default=DEDUP_TTL_HOURS,
                        help=f"how long an event id is remembered to catch redeliveries [{DEDUP_TTL_HOURS:g}]")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from authpulse_dagster.local_stack import apply_local_environment
    from authpulse_dagster.spark import get_spark

    settings = Settings.from_env()
    apply_local_environment(settings)
    checkpoint = args.checkpoint or str(settings.home / "checkpoints" / "stream")
    spark = get_spark(settings, "authpulse-stream")
    query, processor = start_query(
        spark, settings, checkpoint, 0 if args.available_now else args.trigger_seconds, args.max_records,
        refresh_seconds=args.refresh_seconds, dedup_ttl_hours=args.dedup_ttl_hours,
    )
    write_status(settings, {"state": "running", "pid": os.getpid(), "batch_id": None, "started_at": datetime.now(timezone.utc).isoformat()})
    log.info("streaming from %s, checkpoint %s", settings.stream_name, checkpoint)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if args.available_now:
            drain(query, processor)
        while query.isActive and not stop.is_set():
            query.awaitTermination(1)
    except Exception:  # the query failed: awaitTermination re-raises its error; reported below
        pass
    if stop.is_set():
        log.info("stop requested: finishing the batch in flight")
        stop_gracefully(query)
        processor.flush()
    error = query.exception()
    last = asdict(processor.last) if processor.last else {}
    write_status(settings, {**last, "state": "failed" if error else "stopped", "pid": os.getpid(),
                            "error": first_line(error) if error else None, "stopped_at": datetime.now(timezone.utc).isoformat()})
    spark.stop()
    raise SystemExit(1 if error else 0)


if __name__ == "__main__":
    main()
