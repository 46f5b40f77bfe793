"""The replay's checkpoint and failed file: where a resumed replay starts, and what it may resume.

``line`` is the last line such that it and every line before it are settled
(acknowledged by Kinesis, filtered out, or written to the failed file), so
resuming is "skip up to line". Both files are written with a plain write and
an atomic rename: they survive the process being killed at any point (not a
power cut).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.settings import Settings

CHECKPOINT_VERSION = 1


@dataclass
class Totals:
    read: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass
class Checkpoint:
    """The resumable state; ``line`` is the last line such that it and every line before it are settled."""

    path: str
    size: int
    mtime_ns: int
    format: str
    stream: str
    line: int = 0
    eof: bool = False
    totals: Totals = field(default_factory=Totals)

    def to_json(self) -> str:
        body = {"version": CHECKPOINT_VERSION, **asdict(self)}
        body["updated"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        return json.dumps(body, indent=1)


def default_checkpoint_path(path: Path, fmt: str, stream: str, settings: Settings) -> Path:
    """``<run_dir>/replay-<hash>.json``, stable for one file, format and stream."""
    key = f"{Path(path).resolve()}\0{fmt}\0{stream}".encode()
    return settings.run_dir / f"replay-{hashlib.sha256(key).hexdigest()[:16]}.json"


def failed_file_for(checkpoint: Path) -> Path:
    """The default failed-records file that goes with a checkpoint."""
    return checkpoint.with_name(checkpoint.stem + ".failed.jsonl")


def file_identity(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def load_checkpoint(checkpoint: Path) -> Checkpoint:
    try:
        raw = json.loads(checkpoint.read_text(encoding="utf-8"))
        if raw.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"version {raw.get('version')!r}")
        totals = Totals(**raw["totals"])
        return Checkpoint(
            path=str(raw["path"]), size=int(raw["size"]), mtime_ns=int(raw["mtime_ns"]),
            format=str(raw["format"]), stream=str(raw["stream"]), line=int(raw["line"]),
            eof=bool(raw["eof"]), totals=totals,
        )  # fmt: skip
    except FileNotFoundError:
        raise ConfigError(
            f"cannot resume: no checkpoint at {checkpoint}; run without --resume to start from the first line"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"checkpoint {checkpoint} is unreadable ({exc}); delete it or run without --resume") from None


def check_resumable(
    state: Checkpoint, identity: tuple[str, int, int], fmt: str, stream: str, checkpoint: Path
) -> None:
    path, size, mtime_ns = identity
    if (state.path, state.size, state.mtime_ns) != identity:
        raise ConfigError(
            f"cannot resume: the input changed since checkpoint {checkpoint} was written "
            f"(it was {state.path}, {state.size} bytes, mtime_ns {state.mtime_ns}; now {path}, {size} bytes, "
            f"mtime_ns {mtime_ns}); run without --resume to start over"
        )
    if (state.format, state.stream) != (fmt, stream):
        raise ConfigError(
            f"cannot resume: checkpoint {checkpoint} is for format {state.format} to stream {state.stream}, "
            f"not {fmt} to {stream}"
        )


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
