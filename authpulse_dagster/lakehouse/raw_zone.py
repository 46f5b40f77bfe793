"""The raw zone: where landed LANL files live (a local folder, or an S3 prefix in AWS mode).

Layout is the same in both: ``<root>/<format>/<file>``. In AWS mode a file is
downloaded to the node's temporary disk while bronze reads it, one file at a
time (the readers stream from a local file; S3 has no cheap seek for gzip/bz2
sniffing and chunked reads), and deleted right after.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

from authpulse_dagster.aws import aws_client
from authpulse_dagster.lanl.formats import FORMATS
from authpulse_dagster.settings import Settings


@dataclass(frozen=True)
class LandedFile:
    name: str  # what bronze records as source_file: a local path or an s3:// URI
    fmt: str


def landed_files(settings: Settings) -> list[LandedFile]:
    """Every file under ``<raw zone>/<format>/``, in a stable order."""
    if settings.aws is not None:
        return _s3_files(settings, settings.aws.raw_uri)
    found = []
    for fmt in FORMATS:
        folder = settings.landing_dir / fmt
        if folder.is_dir():
            found += [LandedFile(str(p), fmt) for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")]
    return found


def _s3_files(settings: Settings, root: str) -> list[LandedFile]:
    url = urlparse(root)
    prefix = url.path.strip("/")
    s3 = aws_client("s3", settings)
    found = []
    for fmt in FORMATS:
        key_prefix = f"{prefix}/{fmt}/" if prefix else f"{fmt}/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=url.netloc, Prefix=key_prefix):
            for obj in page.get("Contents", []):
                name = obj["Key"].rsplit("/", 1)[-1]
                if name and not name.startswith("."):
                    found.append(LandedFile(f"s3://{url.netloc}/{obj['Key']}", fmt))
    return sorted(found, key=lambda f: (FORMATS.index(f.fmt), f.name))


@contextmanager
def local_copy(settings: Settings, landed: LandedFile) -> Iterator[Path]:
    """A local path to read ``landed`` from (the file itself, or a temporary download)."""
    if not landed.name.startswith("s3://"):
        yield Path(landed.name)
        return
    url = urlparse(landed.name)
    with tempfile.TemporaryDirectory(prefix="authpulse-raw-") as tmp:
        path = Path(tmp) / url.path.rsplit("/", 1)[-1]
        aws_client("s3", settings).download_file(url.netloc, url.path.lstrip("/"), str(path))
        yield path
