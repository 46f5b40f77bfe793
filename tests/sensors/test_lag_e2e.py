"""End to end: the real streaming job falls behind, the lag sensor alerts once, recovers, and its backfill runs.

Local stack (moto over HTTP), the streaming job as its own process (Spark),
the replay producer, a real Dagster instance in a temporary folder. The job
is paused with SIGSTOP (its whole process group: Python driver and JVM)
while the replay carries on, so its lag grows for real; after SIGCONT it
catches up and publishes the lag it had to CloudWatch, where the sensor reads
it. Nothing in this test writes a metric.

Timeline (dataset days: D1 = 2024-01-01, D2, D3):

1. the job runs a cold first batch (a few warm-up events), then D1 promptly; the warning threshold
   is set from the lag measured now (this machine may be shared and slow), and the sensor sees no lag;
2. the job is paused; D2 and two D1 stragglers (behind the watermark) are replayed;
3. the job resumes and catches up — one ``lag_alert``, and only one over later ticks;
4. D3 trickles in and is processed promptly until the lag window holds only low values —
   ``lag_recovered`` and one backfill request for D1 (late events) and D2 (processed late), not D3;
5. the backfill runs through the backfill daemon and succeeds; D1's silver now holds the stragglers.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import date

import dagster as dg
import pytest

from authpulse_dagster import notify
from authpulse_dagster.definitions import build_definitions
from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.lanl.generator import generate
from authpulse_dagster.live.producer import replay
from authpulse_dagster.processes import pid_alive
from authpulse_dagster.resources.streaming import StreamingJobResource
from authpulse_dagster.sensors.backfill import requested_days, silver_gold_keys
from authpulse_dagster.sensors.config import OpsConfig
from authpulse_dagster.sensors.lag import build_lag_sensor
from tests.sensors.daemon import run_backfill

DAY = 86_400
WINDOW_MINUTES = 1


def silver_gold(defs) -> set[str]:
    """The silver and gold assets as the definitions hold them now (the gold group grows)."""
    keys = {k.to_user_string() for k in silver_gold_keys(defs.resolve_asset_graph())}
    assert {"auth_events", "quarantine", "user_host_daily", "user_behavior", "host_popularity"} <= keys
    return keys
WARM_UP = b"".join(b"%d,U8%04d,C1\n" % (10 + i, i) for i in range(20))  # D1 events from users nobody else has
STRAGGLERS = b"100,U90001,C90001\n101,U90002,C90002\n"  # D1 events that arrive after D2: behind the watermark


def _wait(predicate, timeout, what, every=1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _rows(catalog, table, day=None):
    from pyiceberg.exceptions import NoSuchTableError
    from pyiceberg.expressions import EqualTo

    try:
        t = catalog.load_table(f"authpulse.{table}")
    except NoSuchTableError:
        return []
    scan = t.scan(row_filter=EqualTo("event_date", day.isoformat())) if day else t.scan()
    return scan.to_arrow().to_pylist()


def thresholds(normal_lag_ms: int) -> OpsConfig:
    """Warning well above the lag this machine shows when the job keeps up (it differs a lot under load)."""
    warn = max(20_000, 2 * normal_lag_ms + 10_000)
    return OpsConfig(lag_warn_ms=warn, lag_critical_ms=3_600_000, lag_window_minutes=WINDOW_MINUTES)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_lag_episode_alerts_once_recovers_and_backfills_exactly_the_late_days(aws_env, aws_resources, tmp_path, monkeypatch):
    settings = aws_env
    monkeypatch.setenv("AUTHPULSE_SPARK_MASTER", "local[2]")
    monkeypatch.setenv("AUTHPULSE_SPARK_DRIVER_MEMORY", "1g")
    monkeypatch.setenv("AUTHPULSE_SPARK_SHUFFLE_PARTITIONS", "4")
    t0 = time.monotonic()

    def log(msg):
        print(f"[{time.monotonic() - t0:6.1f}s] {msg}", flush=True)

    data = tmp_path / "events.txt"
    generate(data, users=30, computers=60, days=3, seed=11, events_per_user_day=40, progress=False)
    warm_up = tmp_path / "warm-up.txt"
    warm_up.write_bytes(WARM_UP)
    stragglers = tmp_path / "stragglers.txt"
    stragglers.write_bytes(STRAGGLERS)
    catalog = load_catalog(settings)
    defs = build_definitions(settings)
    d1, d3 = date(2024, 1, 1), date(2024, 1, 3)

    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster"), synchronous_run_coordinator=True,
                              synchronous_run_launcher=True) as instance:
        cursor: str | None = None
        lag_messages: list = []

        def tick():
            nonlocal cursor
            result = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs))
            cursor = result.cursor
            got = [m for m in notify.receive(settings, wait_seconds=0) if m.body["kind"].startswith("lag_")]
            lag_messages.extend(got)
            state = json.loads(cursor)
            log(f"tick: lag={state['last_lag_ms']} state={state['last_state']} sent={[m.body['kind'] for m in got]}")
            return result

        # Lag is about ingest; the stream's gold refresh (test_stream_risk's concern) waits an hour here, so
        # batches are short and the episode and the recovery come sooner. The backfill builds gold.
        job = StreamingJobResource(home=str(settings.home), trigger_seconds=2, max_records_per_batch=20_000,
                                   refresh_seconds=3600)
        job.start()
        trickle_stop = threading.Event()
        trickle = None
        try:
            _wait(lambda: job.status().detail.get("started_at"), 120, "the streaming query to start")
            log("streaming job up")

            # 1. A cold first batch (Spark's Python workers start, code warms up), then D1 processed promptly.
            replay(warm_up, "lanl2014", settings, progress=False)
            _wait(lambda: job.status().last_batch_id == 0, 240, "the first (cold) batch")
            cold_done = time.monotonic()
            log(f"cold batch: {job.status().detail}")
            sent_d1 = replay(data, "lanl2014", settings, start_time=0, end_time=DAY, progress=False).sent
            _wait(lambda: (job.status().last_batch_id or 0) >= 1 and len(_rows(catalog, "raw_events")) >= sent_d1 + 20,
                  240, "D1 processed")
            normal = job.status().processing_lag_ms
            ops = thresholds(normal)
            sensor = build_lag_sensor(settings, ops)
            pause_seconds = ops.lag_warn_ms / 1000 + 20
            log(f"D1 processed ({sent_d1} records) with lag {normal} ms: warning at {ops.lag_warn_ms} ms, "
                f"pausing {pause_seconds:.0f} s")

            # 2. Paused while the replay carries on.
            pid = job.status().pid
            os.killpg(pid, signal.SIGSTOP)
            paused_at = time.monotonic()
            log("job paused")
            sent_d2 = replay(data, "lanl2014", settings, start_time=DAY, end_time=2 * DAY, progress=False).sent
            replay(stragglers, "lanl2014", settings, progress=False)
            log(f"replayed D2 ({sent_d2}) and 2 stragglers while paused")
            from authpulse_dagster.spark import get_spark

            get_spark(settings, "authpulse-e2e-backfill")  # warm the backfill's Spark while the job's CPU is free
            # The cold batch's lag has left the window by now; D1's prompt batches are all it may hold.
            time.sleep(max(0.0, cold_done + 60 * WINDOW_MINUTES + 2 - time.monotonic()))
            tick()
            assert json.loads(cursor)["last_state"] in ("ok", "no_data") and lag_messages == []
            time.sleep(max(0.0, pause_seconds - (time.monotonic() - paused_at)))

            # 3. Resumed: it catches up and reports the lag it had.
            os.killpg(pid, signal.SIGCONT)
            log("job resumed")
            trickle = threading.Thread(target=lambda: replay(
                data, "lanl2014", settings, start_time=2 * DAY, end_time=3 * DAY, rate=5, progress=False,
                stop=trickle_stop))
            trickle.start()
            _wait(lambda: tick() and json.loads(cursor)["episode"] is not None, 240, "the lag episode", every=3)
            assert [m.body["kind"] for m in lag_messages] == ["lag_alert"]
            alert = lag_messages[0]
            assert alert.body["lag_ms"] >= ops.lag_warn_ms and alert.attributes["severity"] == "warning"

            # 4. Prompt again for a whole window: recovery and one backfill request.
            recovery = []

            def recovered() -> bool:
                result = tick()
                if json.loads(cursor)["episode"] is None:
                    recovery.append(result)
                    return True
                return False

            _wait(recovered, 300, "recovery", every=5)
            kinds = [m.body["kind"] for m in lag_messages]
            assert kinds == ["lag_alert", "lag_recovered"], kinds  # one alert for the whole episode
            recovered_msg = lag_messages[1].body
            log(f"recovered: {json.dumps(recovered_msg, sort_keys=True)}")
            assert recovered_msg["episode_id"] == alert.body["episode_id"]
            assert recovered_msg["affected_days"] == ["2024-01-01", "2024-01-02"]
            (request,) = recovery[0].run_requests
            assert requested_days(request) == {asset: {"2024-01-01", "2024-01-02"} for asset in silver_gold(defs)}
            print("ALERT_EXAMPLE " + json.dumps({"attributes": alert.attributes, "body": alert.body}, sort_keys=True))
            print("RECOVERY_EXAMPLE " + json.dumps(recovered_msg, sort_keys=True))
        finally:
            trickle_stop.set()
            if trickle is not None:
                trickle.join(timeout=30)
            pid = job.status().pid
            if pid:
                os.killpg(pid, signal.SIGCONT)
                os.killpg(pid, signal.SIGKILL)  # the job and its JVM; nothing of it is needed any more
                _wait(lambda: not pid_alive(pid), 30, "the job to be gone")

        # 5. The backfill, as the daemons would run it: one backfill, one run for the D1..D2 range, success.
        late_ids = {r["event_id"] for r in _rows(catalog, "late_events")}
        assert len(late_ids) == 2 and not late_ids & {r["event_id"] for r in _rows(catalog, "auth_events", d1)}
        backfill = run_backfill(instance, request)
        log(f"backfill {backfill.backfill_id}: {backfill.status}")
        assert backfill.status.value == "COMPLETED_SUCCESS"
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
        assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS]
        assert (runs[0].tags["dagster/asset_partition_range_start"], runs[0].tags["dagster/asset_partition_range_end"]) == (
            "2024-01-01", "2024-01-02")
        built = {
            (key, rec.partition_key)
            for key in silver_gold(defs)
            for rec in instance.fetch_materializations(dg.AssetKey(key), limit=100).records
        }
        assert built == {(key, day) for key in silver_gold(defs) for day in ("2024-01-01", "2024-01-02")}  # not D3
        assert late_ids <= {r["event_id"] for r in _rows(catalog, "auth_events", d1)}  # the stragglers made it
        assert d3 not in {date.fromisoformat(p) for _, p in built}
        log("done")
