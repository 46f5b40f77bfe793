"""The replay producer against a real moto server over HTTP (and a fault-injecting proxy)."""

from __future__ import annotations

import base64
import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from botocore.config import Config

from authpulse_dagster import aws
from authpulse_dagster.cli import cli, main
from authpulse_dagster.cli.replay import replay as replay_command
from authpulse_dagster.errors import ConfigError, InputError
from authpulse_dagster.lanl.readers import iter_batches
from authpulse_dagster.live import producer, replay_sender
from authpulse_dagster.live.producer import default_checkpoint_path, replay
from authpulse_dagster.live.replay_chunks import MAX_BYTES_PER_CALL


# ---------------------------------------------------------------- helpers


def write_lines(path: Path, lines: list[str]) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data, mtime=0))
    else:
        path.write_bytes(data)
    return path


def small_lines(n: int, start: int = 0, per_second: int = 3) -> list[str]:
    return [f"{start + i // per_second},U{i % 37},C{i % 53}" for i in range(n)]


def file_event_ids(path: Path, fmt: str = "lanl2014") -> list[str]:
    return [i for b in iter_batches(path, fmt) for i in b.column("event_id").to_pylist()]


def read_stream(settings, stream: str) -> list[dict]:
    """Every record in the stream, over all shards, decoded."""
    kinesis = aws.aws_client("kinesis", settings)
    out: list[dict] = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        while it:
            page = kinesis.get_records(ShardIterator=it, Limit=10_000)
            if not page["Records"]:
                break
            out += [json.loads(r["Data"]) for r in page["Records"]]
            it = page.get("NextShardIterator")
    return out


def assert_exactly_once(settings, stream: str, expected_ids: list[str]) -> None:
    got = Counter(r["event_id"] for r in read_stream(settings, stream))
    assert got == Counter(expected_ids), f"missing {len(set(expected_ids) - set(got))}, duplicated {sum(c > 1 for c in got.values())}"


class PutSpy:
    """Wraps the producer's client factory to watch every PutRecords request on the wire."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, config: Config | None = None, on_call=None) -> None:
        self.calls: list[dict] = []
        self.on_call = on_call
        real = aws.aws_client

        def factory(service, settings=None, **kwargs):
            if config is not None:
                kwargs["config"] = config
            client = real(service, settings, **kwargs)
            client.meta.events.register("before-call.kinesis.PutRecords", self._before_call)
            return client

        monkeypatch.setattr(producer, "aws_client", factory)

    def _before_call(self, params, **_):
        body = json.loads(params["body"])
        entries = body["Records"]
        sizes = [len(base64.b64decode(e["Data"])) + len(e["PartitionKey"].encode()) for e in entries]
        records = [json.loads(base64.b64decode(e["Data"])) for e in entries]
        self.calls.append({"t": time.monotonic(), "count": len(entries), "bytes": sum(sizes), "max_record": max(sizes), "records": records})
        if self.on_call is not None:
            self.on_call(len(self.calls))


@pytest.fixture
def fast_backoff(monkeypatch):
    monkeypatch.setattr(replay_sender, "BACKOFF_BASE", 0.002)
    monkeypatch.setattr(replay_sender, "BACKOFF_CAP", 0.02)


def run_cli(args: list[str]) -> int:
    cli.add_command(replay_command)  # the lead registers it in cli/__init__; idempotent here
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code


# ---------------------------------------------------------------- batching limits


def test_calls_respect_putrecords_limits_and_every_record_arrives(aws_resources, aws_env, tmp_path, monkeypatch):
    spy = PutSpy(monkeypatch)
    lines = small_lines(1200)
    # Twelve consecutive lines whose records come close to the 1 MiB record
    # limit (the line is carried twice: as text and split into fields), so
    # the 5 MiB limit, not the 500-record one, has to cut those calls.
    lines[600:600] = [f"200,U{k},C{'x' * 490_000}" for k in range(12)]
    path = write_lines(tmp_path / "auth.txt.gz", lines)

    report = replay(path, "lanl2014", aws_env, progress=False)

    assert (report.read, report.sent, report.failed, report.skipped) == (1212, 1212, 0, 0)
    assert report.complete and not report.interrupted and report.failed_file is None
    assert sum(c["count"] for c in spy.calls) == 1212
    assert all(c["count"] <= 500 for c in spy.calls)
    assert all(c["bytes"] <= MAX_BYTES_PER_CALL for c in spy.calls)
    assert all(c["max_record"] <= 1 << 20 for c in spy.calls)
    # Both limits were actually reached, so both were exercised.
    assert max(c["count"] for c in spy.calls) == 500
    assert max(c["bytes"] for c in spy.calls) > 4 * 1024 * 1024
    assert max(c["max_record"] for c in spy.calls) > 900_000
    assert_exactly_once(aws_env, aws_resources.stream, file_event_ids(path))
    # The record format is live.record's: check one against the file.
    sample = spy.calls[0]["records"][0]
    assert sample["schema"] == "authpulse.lanl.v1" and sample["line"] == lines[0] and sample["line_number"] == 1
    assert sample["event_date"] == "2024-01-01" and sample["source_file"] == str(path)


# ---------------------------------------------------------------- failures and retries


def test_partial_failures_are_resent_until_every_record_arrives_once(
    aws_resources, aws_env, fault_proxy, tmp_path, monkeypatch, fast_backoff
):
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", fault_proxy.url)
    fault_proxy.entry_failure_rate = 0.3
    fault_proxy.fail_calls = 2  # whole-call 500s: botocore's retries absorb them
    path = write_lines(tmp_path / "auth.txt", small_lines(1200))

    report = replay(path, "lanl2014", aws_env, progress=False, retry_budget=30)

    assert (report.sent, report.failed) == (1200, 0)
    assert report.retried > 0
    assert report.retried == fault_proxy.entries_failed  # only failed entries were resent
    assert fault_proxy.entries_seen == 1200 + fault_proxy.entries_failed
    assert fault_proxy.calls_failed == 2
    assert_exactly_once(aws_env, aws_resources.stream, file_event_ids(path))


def test_records_out_of_budget_go_to_the_failed_file(aws_resources, aws_env, fault_proxy, tmp_path, monkeypatch, fast_backoff):
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", fault_proxy.url)
    fault_proxy.entry_failure_rate = 1.0
    path = write_lines(tmp_path / "auth.txt", small_lines(700))
    failed_file = tmp_path / "failed.jsonl"

    report = replay(path, "lanl2014", aws_env, progress=False, retry_budget=3, failed_file=failed_file)

    assert (report.read, report.sent, report.failed, report.skipped) == (700, 0, 700, 0)
    assert fault_proxy.entries_seen == 3 * 700  # exactly the budget, per record
    assert report.retried == 2 * 700
    assert report.failed_file == failed_file
    rows = [json.loads(line) for line in failed_file.read_text().splitlines()]
    assert [r["record"]["event_id"] for r in rows] == file_event_ids(path)
    assert {r["error_code"] for r in rows} == {"ProvisionedThroughputExceededException"}
    assert {r["attempts"] for r in rows} == {3}
    assert rows[0]["partition_key"] == "U0" and rows[0]["error_message"]
    # Failed-for-good records are settled: the checkpoint moved past them.
    assert json.loads(report.checkpoint.read_text())["line"] == 700
    assert read_stream(aws_env, aws_resources.stream) == []


def test_cli_exits_5_and_says_where_failed_records_are(aws_resources, aws_env, fault_proxy, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", fault_proxy.url)
    fault_proxy.entry_failure_rate = 1.0
    path = write_lines(tmp_path / "auth.txt", small_lines(120))
    failed_file = tmp_path / "out" / "failed.jsonl"

    code = run_cli(["replay", "--input", str(path), "--format", "lanl2014", "--retry-budget", "1",
                    "--failed-file", str(failed_file), "--no-progress"])  # fmt: skip

    assert code == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "120 records failed" in err[0] and str(failed_file) in err[0]
    assert len(failed_file.read_text().splitlines()) == 120
    assert fault_proxy.entries_seen == 120


def test_whole_call_failures_after_botocore_gives_up_count_against_the_budget(
    aws_resources, aws_env, fault_proxy, tmp_path, monkeypatch, fast_backoff
):
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", fault_proxy.url)
    # No botocore retries here, so each injected 500 reaches the producer.
    PutSpy(monkeypatch, config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    path = write_lines(tmp_path / "auth.txt", small_lines(10))

    fault_proxy.fail_calls = 1
    report = replay(path, "lanl2014", aws_env, progress=False, retry_budget=2)
    assert (report.sent, report.retried, report.failed) == (10, 10, 0)

    fault_proxy.fail_calls = 2
    report = replay(path, "lanl2014", aws_env, progress=False, retry_budget=2)
    assert (report.sent, report.retried, report.failed) == (0, 10, 10)
    rows = [json.loads(line) for line in report.failed_file.read_text().splitlines()]
    assert {r["error_code"] for r in rows} == {"InternalFailure"}
    assert_exactly_once(aws_env, aws_resources.stream, file_event_ids(path))


# ---------------------------------------------------------------- resume


def test_stop_then_resume_sends_every_record_exactly_once(aws_resources, aws_env, tmp_path, monkeypatch):
    stop = threading.Event()
    spy = PutSpy(monkeypatch, on_call=lambda n: stop.set() if n == 2 else None)
    path = write_lines(tmp_path / "auth.txt.gz", small_lines(3000))

    first = replay(path, "lanl2014", aws_env, progress=False, stop=stop)

    assert first.interrupted and not first.complete
    assert (first.read, first.sent, first.last_line) == (1000, 1000, 1000)  # the call in flight finished
    saved = json.loads(first.checkpoint.read_text())
    assert saved["line"] == 1000 and saved["totals"]["sent"] == 1000 and not saved["eof"]
    assert first.checkpoint == default_checkpoint_path(path, "lanl2014", aws_resources.stream, aws_env)

    second = replay(path, "lanl2014", aws_env, progress=False, resume=True)

    assert second.complete and (second.resumed_from, second.read, second.sent) == (1000, 2000, 2000)
    assert json.loads(second.checkpoint.read_text())["totals"]["sent"] == 3000
    assert sum(c["count"] for c in spy.calls) == 3000
    assert_exactly_once(aws_env, aws_resources.stream, file_event_ids(path))

    # Resuming a finished replay sends nothing.
    third = replay(path, "lanl2014", aws_env, progress=False, resume=True)
    assert (third.read, third.sent) == (0, 0) and third.complete


def test_resume_refuses_a_changed_input(aws_resources, aws_env, tmp_path):
    path = write_lines(tmp_path / "auth.txt", small_lines(50))
    replay(path, "lanl2014", aws_env, progress=False, limit=10)
    write_lines(path, small_lines(60))
    with pytest.raises(ConfigError, match="input changed"):
        replay(path, "lanl2014", aws_env, progress=False, resume=True)


def test_resume_without_a_checkpoint_is_an_error(aws_resources, aws_env, tmp_path):
    path = write_lines(tmp_path / "auth.txt", small_lines(5))
    with pytest.raises(ConfigError, match="no checkpoint"):
        replay(path, "lanl2014", aws_env, progress=False, resume=True)


def _cli_subprocess(args: list[str]) -> subprocess.Popen:
    code = "from authpulse_dagster.cli import cli, main; from authpulse_dagster.cli.replay import replay; cli.add_command(replay); main()"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


@pytest.mark.parametrize("sig, exit_code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_cli_signal_stops_cleanly_and_resume_completes(aws_resources, aws_env, tmp_path, sig, exit_code):
    path = write_lines(tmp_path / "auth.txt", small_lines(3000))
    checkpoint = default_checkpoint_path(path, "lanl2014", aws_resources.stream, aws_env)
    proc = _cli_subprocess(["replay", "--input", str(path), "--format", "lanl2014", "--rate", "1000", "--no-progress"])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until some records are acknowledged
            try:
                if json.loads(checkpoint.read_text())["line"] >= 300:
                    break
            except (FileNotFoundError, ValueError):
                pass
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == exit_code, err
    assert "--resume" in err and signal.Signals(sig).name in err
    stopped_at = json.loads(checkpoint.read_text())["line"]
    assert 300 <= stopped_at < 3000

    code = run_cli(["replay", "--input", str(path), "--format", "lanl2014", "--resume", "--no-progress"])

    assert code == 0
    assert_exactly_once(aws_env, aws_resources.stream, file_event_ids(path))


# ---------------------------------------------------------------- pacing, limits, windows


def test_rate_is_within_ten_percent_and_smooth(aws_resources, aws_env, tmp_path, monkeypatch):
    spy = PutSpy(monkeypatch)
    path = write_lines(tmp_path / "auth.txt", small_lines(1200))

    report = replay(path, "lanl2014", aws_env, progress=False, rate=400)

    assert report.sent == 1200
    assert report.events_per_second == pytest.approx(400, rel=0.10)
    assert max(c["count"] for c in spy.calls) == 20  # small, evenly spaced calls, not bursts
    # No one-second window carries much more than the rate.
    times = [c["t"] for c in spy.calls for _ in range(c["count"])]
    busiest = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
    assert busiest <= 400 + 3 * 20  # the rate plus at most a few calls' worth of catching up


def test_speedup_never_sends_an_event_early(aws_resources, aws_env, tmp_path, monkeypatch):
    spy = PutSpy(monkeypatch)
    lines = small_lines(300, start=1000, per_second=3)  # dataset seconds 1000..1099
    lines.insert(150, "garbage without a time")  # goes with its neighbours (time 1049)
    path = write_lines(tmp_path / "auth.txt", lines)

    started = time.monotonic()  # the pacer's anchor is later than this, so the check below is safe
    report = replay(path, "lanl2014", aws_env, progress=False, speedup=50)  # 99 s in ~2 s

    assert report.sent == 301
    first = spy.calls[0]
    first_time = min(r["dataset_time"] for r in first["records"] if r["dataset_time"] is not None)
    for call in spy.calls:
        times = [r["dataset_time"] for r in call["records"] if r["dataset_time"] is not None]
        assert call["t"] - started >= (max(times) - 1000) / 50  # never early...
        # ...and not much late, measured from the first put: the time before it (the client, the
        # first connection to moto) is set-up, and took 1.5 s once on a loaded CI machine
        assert call["t"] - first["t"] <= (min(times) - first_time) / 50 + 1.0
    assert len(spy.calls) > 20  # paced in small steps, not one burst
    assert 99 / 50 <= report.seconds < 99 / 50 * 1.5
    garbage = next(r for c in spy.calls for r in c["records"] if r["dataset_time"] is None)
    call_of_garbage = next(c for c in spy.calls if garbage in c["records"])
    assert call_of_garbage["t"] - started >= (1049 - 1000) / 50


def test_time_window_and_limit(aws_resources, aws_env, tmp_path):
    lines = small_lines(100, per_second=1)  # times 0..99
    lines.insert(30, "")  # blank line after time 29: filed with time 29, outside the window
    lines.insert(51, "x")  # after time 49 (index 51 after the first insert): inside
    path = write_lines(tmp_path / "auth.txt", lines)

    report = replay(path, "lanl2014", aws_env, progress=False, start_time=30, end_time=60)

    assert (report.read, report.sent, report.skipped) == (102, 31, 71)
    got = read_stream(aws_env, aws_resources.stream)
    times = sorted(r["dataset_time"] for r in got if r["dataset_time"] is not None)
    assert times == list(range(30, 60))
    assert [r["line"] for r in got if r["dataset_time"] is None] == ["x"]

    limited = replay(path, "lanl2014", aws_env, progress=False, limit=7, checkpoint=tmp_path / "ck.json")
    assert (limited.sent, limited.last_line, limited.complete) == (7, 7, False)


# ---------------------------------------------------------------- user errors


def test_user_errors(aws_resources, aws_env, tmp_path):
    path = write_lines(tmp_path / "auth.txt", small_lines(3))
    with pytest.raises(InputError, match="not found"):
        replay(tmp_path / "missing.txt", "lanl2014", aws_env, progress=False)
    with pytest.raises(ConfigError, match="not both"):
        replay(path, "lanl2014", aws_env, progress=False, rate=10, speedup=10)
    with pytest.raises(ConfigError, match="does not exist"):
        replay(path, "lanl2014", aws_env, progress=False, stream="no-such-stream")
    assert run_cli(["replay", "--input", str(tmp_path / "missing.txt"), "--format", "lanl2014"]) == InputError.exit_code


def test_cli_in_local_mode_needs_the_local_stack(aws_env, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AUTHPULSE_HOME", str(tmp_path / "empty-home"))
    path = write_lines(tmp_path / "auth.txt", small_lines(3))
    assert run_cli(["replay", "--input", str(path), "--format", "lanl2014"]) == 4
    assert "authpulse local up" in capsys.readouterr().err
