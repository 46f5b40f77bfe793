"""The embedded AWS for local mode: a moto server in its own process.

``up`` starts ``python -m moto.server`` detached from the terminal, so the
stack outlives the command that started it and every process on the machine
(Dagster, Spark drivers, a shell) can reach it through ``AWS_ENDPOINT_URL``.
Its pid and endpoint are recorded under ``<home>/run`` so later commands find
it, and ``up`` is idempotent: it reuses a live server and (re)creates the
stream, topic, queue and metric namespace, which also repairs a server that
was restarted and lost its in-memory state.

Resources are created through :func:`authpulse_dagster.aws.aws_client` with
the endpoint in the standard environment variables, exactly as the pipeline
reaches them; nothing here relies on moto-only APIs.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from authpulse_dagster.aws import aws_client, local_aws_environment
from authpulse_dagster.errors import EnvironmentProblem
from authpulse_dagster.processes import pid_alive
from authpulse_dagster.settings import LOCAL, Settings

HOST = "127.0.0.1"
PID_FILE = "moto.pid"
ENDPOINT_FILE = "endpoint"
LOG_FILE = "moto.log"
_LOCK_FILE = "local-stack.lock"
_STOP_GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.1

# Servers started by this process, so their exit can be reaped: an unreaped
# child stays a zombie that still "exists" to os.kill(pid, 0).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class LocalResources:
    """The AWS resources the pipeline expects, as created in the local stack."""

    stream: str
    topic_arn: str
    queue_url: str


@dataclass(frozen=True)
class StackStatus:
    """What ``authpulse local status`` reports; resource fields only when running."""

    running: bool
    pid: int | None
    endpoint: str | None
    port: int | None
    stream: str | None
    topic_arn: str | None
    queue_url: str | None
    catalog_uri: str
    warehouse: Path
    home: Path


@dataclass(frozen=True)
class _Record:
    pid: int
    endpoint: str


def find_free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option the server's listener uses, so a port lingering in
        # TIME_WAIT after a previous stack is not mistaken for a busy one.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _make_home(settings: Settings) -> None:
    for path in (
        settings.home,
        settings.warehouse,
        settings.logs_dir,
        settings.run_dir,
        settings.dagster_home,
        settings.landing_dir,
    ):
        path.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _lock(settings: Settings) -> Iterator[None]:
    """Serialise up/down across processes (two terminals, parallel tests)."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.run_dir / _LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _read_record(settings: Settings) -> _Record | None:
    try:
        pid = int((settings.run_dir / PID_FILE).read_text(encoding="utf-8").strip())
        endpoint = (settings.run_dir / ENDPOINT_FILE).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, ValueError):
        return None
    return _Record(pid, endpoint) if endpoint else None


def _clear_record(settings: Settings) -> None:
    for name in (PID_FILE, ENDPOINT_FILE):
        (settings.run_dir / name).unlink(missing_ok=True)


def _exists(pid: int) -> bool:
    """Whether ``pid`` still exists (a dying child counts until reaped)."""
    child = _children.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _children[pid]
        return False
    return pid_alive(pid)


def _is_moto_server(pid: int) -> bool:
    """Whether ``pid`` is a live moto server (pids are reused after a reboot,
    and a stale pid file must never make ``down`` kill an unrelated process)."""
    if pid in _children:  # started by this process: its identity is known
        return _exists(pid)
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    if Path("/proc/self/cmdline").exists():
        try:
            return b"moto.server" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
    try:  # macOS and other systems without /proc
        out = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return True
    return "moto.server" in out.stdout


def _answers(endpoint: str, timeout: float = 1.0) -> bool:
    """Whether anything speaks HTTP at ``endpoint``; any status code counts.

    http.client rather than urllib: a user's HTTP_PROXY must not intercept
    a probe of 127.0.0.1.
    """
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname or HOST, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
    return True


def _live_record(settings: Settings) -> _Record | None:
    record = _read_record(settings)
    if record is None or not _is_moto_server(record.pid) or not _answers(record.endpoint):
        return None
    return record


def live_endpoint(settings: Settings) -> str | None:
    """The endpoint of the recorded local stack if it is alive and answering."""
    record = _live_record(settings)
    return record.endpoint if record else None


def _wait_gone(pid: int, seconds: float) -> bool:
    # Existence, not identity: an exiting process loses its cmdline before it
    # closes its sockets, and the port is only free once it is fully gone.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _exists(pid):
            return True
        time.sleep(_POLL_SECONDS)
    return not _exists(pid)


def _terminate(pid: int) -> None:
    for sig, grace in ((signal.SIGTERM, _STOP_GRACE_SECONDS), (signal.SIGKILL, 2.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        if _wait_gone(pid, grace):
            break
    _children.pop(pid, None)


def _start_server(settings: Settings, port: int, timeout: float) -> _Record:
    if not _port_is_free(port):
        raise EnvironmentProblem(
            f"port {port} on {HOST} is in use; stop what uses it or pass --port / set AUTHPULSE_MOTO_PORT"
        )
    log_path = settings.logs_dir / LOG_FILE
    if log_path.exists():
        # Keep the previous run's log: it explains why that server went away.
        os.replace(log_path, log_path.with_name(LOG_FILE + ".1"))
    endpoint = f"http://{HOST}:{port}"
    # MOTO_PORT makes URLs the server generates (queue URLs) carry our port
    # even if the user's shell has a different one exported.
    env = {**os.environ, "MOTO_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=settings.home,
            env=env,
            # Own session: Ctrl-C in the terminal that ran `up` must not stop it.
            start_new_session=True,
        )
    _children[proc.pid] = proc
    deadline = time.monotonic() + timeout
    while not _answers(endpoint, timeout=0.5):
        code = proc.poll()
        if code is not None:
            _children.pop(proc.pid, None)
            raise EnvironmentProblem(f"the local AWS (moto server) exited with code {code} while starting; see {log_path}")
        if time.monotonic() > deadline:
            _terminate(proc.pid)
            raise EnvironmentProblem(f"the local AWS (moto server) did not answer on {endpoint} within {timeout:g}s; see {log_path}")
        time.sleep(_POLL_SECONDS)
    _write_atomic(settings.run_dir / PID_FILE, f"{proc.pid}\n")
    _write_atomic(settings.run_dir / ENDPOINT_FILE, f"{endpoint}\n")
    return _Record(proc.pid, endpoint)


@contextlib.contextmanager
def _local_env(endpoint: str, region: str) -> Iterator[None]:
    """Point this process's clients at ``endpoint`` for the duration.

    Per-service endpoint overrides and AWS_IGNORE_CONFIGURED_ENDPOINT_URLS are
    hidden meanwhile: they would otherwise send part of the setup elsewhere.
    """
    saved = dict(os.environ)
    try:
        for name in list(os.environ):
            if name.startswith("AWS_ENDPOINT_URL_") or name == "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS":
                del os.environ[name]
        os.environ.update(local_aws_environment(endpoint, region))
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _ensure_stream(settings: Settings, timeout: float) -> str:
    kinesis = aws_client("kinesis", settings)
    try:
        kinesis.describe_stream_summary(StreamName=settings.stream_name)
    except ClientError as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
        try:
            kinesis.create_stream(StreamName=settings.stream_name, ShardCount=settings.stream_shards)
        except ClientError as race:
            if _error_code(race) != "ResourceInUseException":  # created meanwhile by another `up`
                raise
    kinesis.get_waiter("stream_exists").wait(
        StreamName=settings.stream_name,
        WaiterConfig={"Delay": 1, "MaxAttempts": max(1, math.ceil(timeout))},
    )
    return settings.stream_name


def _ensure_queue(settings: Settings) -> tuple[str, str]:
    sqs = aws_client("sqs", settings)
    try:
        url = sqs.get_queue_url(QueueName=settings.alert_queue)["QueueUrl"]
    except ClientError as exc:
        if "NonExistentQueue" not in _error_code(exc) and _error_code(exc) != "QueueDoesNotExist":
            raise
        url = sqs.create_queue(QueueName=settings.alert_queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _allow_topic_to_send(settings: Settings, queue_url: str, queue_arn: str, topic_arn: str) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowAlertTopic",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    aws_client("sqs", settings).set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})


def _ensure_subscription(settings: Settings, topic_arn: str, queue_arn: str) -> None:
    sns = aws_client("sns", settings)
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for sub in page.get("Subscriptions", []):
            if sub.get("Protocol") == "sqs" and sub.get("Endpoint") == queue_arn:
                # Raw delivery is what consumers parse; repair it if changed.
                sns.set_subscription_attributes(
                    SubscriptionArn=sub["SubscriptionArn"], AttributeName="RawMessageDelivery", AttributeValue="true"
                )
                return
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
        ReturnSubscriptionArn=True,
    )


def ensure_resources(settings: Settings, timeout: float = 30) -> LocalResources:
    """Create whatever of the stream, topic, queue and namespace is missing.

    Talks to whatever endpoint the environment names, so tests can call it
    against a shared server with per-test resource names.
    """
    stream = _ensure_stream(settings, timeout)
    topic_arn = aws_client("sns", settings).create_topic(Name=settings.alert_topic)["TopicArn"]
    queue_url, queue_arn = _ensure_queue(settings)
    _allow_topic_to_send(settings, queue_url, queue_arn, topic_arn)
    _ensure_subscription(settings, topic_arn, queue_arn)
    # CloudWatch has no "create namespace": a namespace exists once it has data.
    aws_client("cloudwatch", settings).put_metric_data(
        Namespace=settings.metrics_namespace,
        MetricData=[{"MetricName": "StackUp", "Value": 1.0, "Unit": "Count"}],
    )
    # The SOC API's table (keys, triage state, audit trail): authpulse_dagster/api/store.py.
    from authpulse_dagster.api.store import ensure_table as ensure_api_table

    ensure_api_table(settings)
    return LocalResources(stream=stream, topic_arn=topic_arn, queue_url=queue_url)


def _find_resources(settings: Settings) -> tuple[str | None, str | None, str | None]:
    """Look the resources up without creating any (for ``status``)."""
    stream = topic_arn = queue_url = None
    with contextlib.suppress(ClientError, BotoCoreError):
        aws_client("kinesis", settings).describe_stream_summary(StreamName=settings.stream_name)
        stream = settings.stream_name
    with contextlib.suppress(ClientError, BotoCoreError):
        for page in aws_client("sns", settings).get_paginator("list_topics").paginate():
            for topic in page.get("Topics", []):
                if topic["TopicArn"].rsplit(":", 1)[-1] == settings.alert_topic:
                    topic_arn = topic["TopicArn"]
    with contextlib.suppress(ClientError, BotoCoreError):
        queue_url = aws_client("sqs", settings).get_queue_url(QueueName=settings.alert_queue)["QueueUrl"]
    return stream, topic_arn, queue_url


def _status(settings: Settings, record: _Record | None, resources: LocalResources | None = None) -> StackStatus:
    stream = topic_arn = queue_url = None
    if record is not None:
        if resources is not None:
            stream, topic_arn, queue_url = resources.stream, resources.topic_arn, resources.queue_url
        else:
            with _local_env(record.endpoint, settings.region):
                stream, topic_arn, queue_url = _find_resources(settings)
    return StackStatus(
        running=record is not None,
        pid=record.pid if record else None,
        endpoint=record.endpoint if record else None,
        port=urlsplit(record.endpoint).port if record else None,
        stream=stream,
        topic_arn=topic_arn,
        queue_url=queue_url,
        catalog_uri=settings.catalog_uri,
        warehouse=settings.warehouse,
        home=settings.home,
    )


def up(settings: Settings, port: int | None = None, timeout: float = 30) -> StackStatus:
    """Start (or reuse) the local AWS and make sure its resources exist."""
    _make_home(settings)
    with _lock(settings):
        record = _live_record(settings)
        if record is not None and port is not None and urlsplit(record.endpoint).port != port:
            raise EnvironmentProblem(
                f"the local stack already runs at {record.endpoint}; run `authpulse local down` first to move it to port {port}"
            )
        if record is None:
            stale = _read_record(settings)
            if stale is not None and _is_moto_server(stale.pid):
                _terminate(stale.pid)  # ours but not answering: hung
            _clear_record(settings)
            record = _start_server(settings, port or settings.moto_port, timeout)
        with _local_env(record.endpoint, settings.region):
            resources = ensure_resources(settings, timeout)
    return _status(settings, record, resources)


def down(settings: Settings) -> bool:
    """Stop the recorded local AWS; True if a server was stopped."""
    if not settings.run_dir.exists():
        return False
    with _lock(settings):
        record = _read_record(settings)
        stopped = False
        if record is not None and _is_moto_server(record.pid):
            _terminate(record.pid)
            stopped = True
        _clear_record(settings)
    return stopped


def status(settings: Settings) -> StackStatus:
    """Report the local stack; a recorded but dead server counts as not running."""
    return _status(settings, _live_record(settings))


def apply_local_environment(settings: Settings) -> str | None:
    """Point this process's AWS clients at the local stack, if it is up.

    An ``AWS_ENDPOINT_URL`` already in the environment wins (the user or a
    test chose it) and is returned unchanged. Returns None in aws mode, or
    when no live local stack is recorded under the data home.
    """
    if settings.env != LOCAL:
        return None
    existing = os.environ.get("AWS_ENDPOINT_URL")
    if existing:
        return existing
    endpoint = live_endpoint(settings)
    if endpoint is None:
        return None
    os.environ.update(local_aws_environment(endpoint, settings.region))
    return endpoint
