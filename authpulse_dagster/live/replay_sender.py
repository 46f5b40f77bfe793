"""Sending one chunk to Kinesis until each record is acknowledged or out of attempts.

Throttling, 5xx and connection errors of a whole call are retried by botocore
(``aws.aws_client`` sets its retry mode); this module only retries the
per-record failures a successful call reports, and counts a call that still
fails as one failed attempt of each of its records. Errors no retry can fix
stop the replay with one line; records out of attempts go to the failed file.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from authpulse_dagster.errors import AuthPulseError, ConfigError, EnvironmentProblem
from authpulse_dagster.live.replay_chunks import Entry

# Backoff for per-record failures: exponential with full jitter (AWS
# architecture blog), capped so a stop request is honoured within seconds.
BACKOFF_BASE = 0.05
BACKOFF_CAP = 2.0
# API errors that no retry can fix: stop and say so, instead of filling the
# failed file with every record of the file.
_FATAL_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "ExpiredToken",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSNotFoundException",
        "KMSInvalidStateException",
    }
)
# Client-side parameter validation walks every record of every call (~2.6 us a
# record, on the sender's critical path); the requests are built to the API's
# shape and encode() keeps records within 1 MiB, so it only costs. Were a
# request ever malformed, Kinesis's own validation would reject it and its
# records would go to the failed file like any other failure.
CLIENT_CONFIG = Config(parameter_validation=False)


@dataclass(frozen=True)
class Failure:
    """A record rejected for good: what goes to the failed file."""

    entry: Entry
    attempts: int
    code: str
    message: str


class Sender:
    """PutRecords with per-record retries; whole-call retries are botocore's."""

    def __init__(
        self,
        client: Any,
        stream: str,
        budget: int,
        sleep: Callable[[float], object] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.stream = stream
        self.budget = budget
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.retried = 0

    def backoff(self, retry: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(retry-1))]."""
        return self.rng.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (retry - 1)))

    def send(self, entries: list[Entry]) -> tuple[int, list[Failure]]:
        """Send until each entry is acknowledged or out of attempts; return (sent, failed for good).

        Every record still pending has failed every earlier round, so the
        round number is each pending record's attempt count.
        """
        pending, failed, sent, attempt = entries, [], 0, 0
        while pending:
            if attempt:
                self.sleep(self.backoff(attempt))
            attempt += 1
            errors = self._put(pending)
            if errors is None:
                return sent + len(pending), failed
            again = []
            for entry, error in zip(pending, errors):
                if error is None:
                    sent += 1
                elif attempt < self.budget:
                    again.append(entry)
                else:
                    failed.append(Failure(entry, attempt, *error))
            self.retried += len(again)
            pending = again
        return sent, failed

    def _put(self, pending: list[Entry]) -> list[tuple[str, str] | None] | None:
        """One call; None when every record was accepted, else per-record errors in request order."""
        try:
            response = self.client.put_records(StreamName=self.stream, Records=pending)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code", "ClientError")), str(error.get("Message", exc))
            if code in _FATAL_CODES:
                raise fatal_error(self.stream, code, message) from None
            return [(code, message)] * len(pending)
        except BotoCoreError as exc:  # connection refused/reset, timeouts: botocore already retried
            return [(type(exc).__name__, str(exc))] * len(pending)
        if not response.get("FailedRecordCount"):
            return None
        results = response["Records"]
        if len(results) != len(pending):
            # Cannot tell which records were written; retrying could duplicate, skipping could lose.
            raise EnvironmentProblem(
                f"Kinesis answered PutRecords for {len(pending)} records with {len(results)} results; stopping"
            )
        return [(r["ErrorCode"], r.get("ErrorMessage", "")) if r.get("ErrorCode") else None for r in results]


def fatal_error(stream: str, code: str, message: str) -> AuthPulseError:
    if code == "ResourceNotFoundException":
        return ConfigError(
            f"Kinesis stream {stream!r} does not exist ({message}); create it (in local mode: `authpulse local up`) "
            "or choose another with --stream / AUTHPULSE_STREAM"
        )
    return EnvironmentProblem(
        f"Kinesis refused PutRecords on {stream!r} ({code}: {message}); fix it and rerun with --resume"
    )


def check_stream(client: Any, stream: str) -> None:
    """Fail before touching the checkpoint when the stream is missing or unreachable."""
    try:
        client.describe_stream_summary(StreamName=stream)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise fatal_error(stream, str(error.get("Code", "")), str(error.get("Message", exc))) from None
    except BotoCoreError as exc:
        raise EnvironmentProblem(f"cannot reach Kinesis to look up stream {stream!r}: {exc}") from None


def append_failed(path: Path, failures: list[Failure]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as out:
        for f in failures:
            record = json.loads(f.entry["Data"])
            row = {
                "record": record,
                "partition_key": f.entry["PartitionKey"],
                "line_number": record.get("line_number"),
                "attempts": f.attempts,
                "error_code": f.code,
                "error_message": f.message,
            }
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
