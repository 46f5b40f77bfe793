"""End to end through Kinesis: the producer, the Kinesis source and the streaming job as processes.

The kill test replays ~21,000 events (with damaged lines) while the streaming
job is killed with SIGKILL three times at random moments and restarted; in the
end every record is in bronze exactly once, every valid event is in silver
exactly once (or, if it fell behind the watermark, listed in late_events and
not in silver), and every damaged line is in the quarantine exactly once.
"""

import os
import random
import re
import signal
import threading
import time
from collections import Counter

import pytest

from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.lanl.generator import generate
from authpulse_dagster.lanl.readers import iter_batches
from authpulse_dagster.live.producer import replay
from authpulse_dagster.resources.streaming import StreamingJobResource

VALID_2014 = re.compile(rb"[0-9]+,U[0-9]+,C[0-9]+")


def _ids(catalog, table):
    from pyiceberg.exceptions import NoSuchTableError

    try:
        scan = catalog.load_table(f"authpulse.{table}").scan(selected_fields=("event_id",))
    except NoSuchTableError:  # the job has not written its first batch yet
        return []
    return scan.to_arrow()["event_id"].to_pylist()


def _expected(path, settings):
    valid, bad = [], []
    for batch in iter_batches(path, "lanl2014", max_dataset_seconds=settings.max_dataset_seconds):
        for payload, event_id in zip(batch["payload"].to_pylist(), batch["event_id"].to_pylist()):
            (valid if VALID_2014.fullmatch(payload) else bad).append(event_id)
    return valid, bad


def _wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _kill_job(job: StreamingJobResource) -> None:
    pid = job.status().pid
    assert pid, "the streaming job should be running"
    os.killpg(pid, signal.SIGKILL)  # the driver and its Spark JVM, as a crash would
    _wait_until(lambda: not job.status().running, 30, "the killed job to be gone")


@pytest.mark.slow
def test_streaming_job_survives_sigkill_three_times(aws_env, aws_resources, tmp_path):
    settings = aws_env
    data = tmp_path / "events.txt.gz"
    stats = generate(data, users=80, computers=160, days=2, seed=21, events_per_user_day=100, corrupt_rate=0.002, progress=False)
    assert stats.events >= 20_000
    valid, bad = _expected(data, settings)

    reports = []
    producer = threading.Thread(target=lambda: reports.append(replay(data, "lanl2014", settings, rate=1000, progress=False)))
    # Gold and risk are test_stream_risk's concern; refreshed once an hour here so the job's batches are
    # the ingest path the kills interrupt, and the test stays short.
    job = StreamingJobResource(trigger_seconds=2, max_records_per_batch=3000, refresh_seconds=3600)
    job.start()
    producer.start()
    rng = random.Random(7)
    last_batch = -1
    for _ in range(3):
        # Strike while it works: after the (re)started job finished a batch, at a random moment.
        _wait_until(lambda: (job.status().last_batch_id or -1) > last_batch, 180, "the job to finish a batch")
        time.sleep(rng.uniform(0, 5))
        last_batch = job.status().last_batch_id or -1
        _kill_job(job)
        job.start()
    producer.join(timeout=300)
    assert reports and reports[0].failed == 0 and reports[0].sent == len(valid) + len(bad)

    catalog = load_catalog(settings)
    _wait_until(lambda: len(_ids(catalog, "raw_events")) >= len(valid) + len(bad), 600, "bronze to hold every record")
    job.stop()

    # Compared as multisets: identical damaged lines (e.g. every blank line) share an id by the
    # event-id rule, so "exactly once" means exactly as many times as the file holds them.
    assert Counter(_ids(catalog, "raw_events")) == Counter(valid) + Counter(bad), "bronze lost or repeated a record"
    silver = Counter(_ids(catalog, "auth_events"))
    late = set(_ids(catalog, "late_events"))
    assert max(silver.values()) == 1, "an event reached silver twice"
    assert not set(silver) & late
    assert set(silver) | late == set(valid), "a valid event is missing"
    assert Counter(_ids(catalog, "quarantine")) == Counter(bad), "quarantine lost or repeated a bad line"
    status = job.status()
    assert status.state == "stopped" and status.last_batch_id is not None
