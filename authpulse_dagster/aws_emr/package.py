"""Build what an EMR cluster needs to run AuthPulse: ``make emr-package``.

Output (``dist/`` by default):

- ``authpulse-emr.tar.gz``: the ``authpulse_dagster`` package and its Python
  dependencies in a ``pip --target`` layout (importable packages at the root),
  for ``spark.archives=...authpulse-emr.tar.gz#environment``. The steps put
  ``./environment`` on ``PYTHONPATH`` and run the cluster's own Python 3.11
  (EMR ``emr-spark-8.1.0`` ships 3.11), so the archive carries no interpreter
  and no absolute paths: unlike a venv-pack archive it does not depend on
  where Python lives on the build machine.
- ``authpulse_emr_main.py``: the launcher spark-submit runs (``aws_emr/launcher.py``).

Dependencies are the project's own (``pyproject.toml``), pinned to the versions
installed here, minus what the cluster provides or never uses: ``pyspark``
(EMR's Spark brings it), the Dagster webserver and the orchestrator-only
integrations (``dagster-aws``, ``dagster-pyspark``), the local emulator
(``moto``) and the local query engine (``duckdb``). ``dagster``
itself stays: the streaming job imports its status file name from the
``streaming`` resource module.

Two sources for the dependencies:

- ``--source pypi`` (default, what ``make emr-package`` does): ``pip install
  --target`` with ``--platform`` (default ``manylinux_2_34_x86_64``, Amazon
  Linux 2023 on x86_64; ``manylinux_2_34_aarch64`` for Graviton) and
  ``--only-binary=:all:``, so the wheels match the cluster, whatever machine builds.
- ``--source local-env``: copy the installed distributions of this virtualenv
  (their RECORD files), like venv-pack does; offline, and valid when this
  machine matches the cluster (Linux, CPython 3.11, same architecture). The
  tests use it.

``--upload`` copies both files to ``AUTHPULSE_EMR_ARTIFACTS_URI`` (or ``--upload-to``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Iterable

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import authpulse_dagster
from authpulse_dagster.aws_emr.layout import ARCHIVE_NAME, JAR_NAME, LAUNCHER_NAME
from authpulse_dagster.errors import ConfigError, EnvironmentProblem

PACKAGE_DIR = Path(authpulse_dagster.__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
LAUNCHER_SOURCE = PACKAGE_DIR / "aws_emr" / "launcher.py"
MANIFEST_NAME = "AUTHPULSE_EMR_MANIFEST.json"
DEFAULT_PLATFORM = "manylinux_2_34_x86_64"
# Provided by EMR, or used only by the orchestrator / locally.
DEFAULT_EXCLUDES = ("pyspark", "dagster-webserver", "dagster-aws", "dagster-pyspark", "moto", "duckdb")
# Extras the cluster needs (the local SQLite catalog extra is not among them).
CLUSTER_EXTRAS = {"pyiceberg": {"pyarrow", "glue"}}


@dataclass
class BuildReport:
    archive: Path
    launcher: Path
    jar: Path
    requirements: list[str]
    distributions: dict[str, str] = field(default_factory=dict)
    bytes: int = 0
    seconds: float = 0.0


def project_requirements(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> list[Requirement]:
    """The project's runtime dependencies, from pyproject.toml."""
    try:
        data = tomllib.loads(pyproject.read_text())
    except OSError:
        raise EnvironmentProblem(f"cannot read {pyproject}; build the EMR package from a checkout of the project") from None
    return [Requirement(r) for r in data["project"]["dependencies"]]


def cluster_requirements(excludes: Iterable[str] = DEFAULT_EXCLUDES, pin: bool = True) -> list[str]:
    """Requirement strings for the cluster: project deps minus ``excludes``, pinned to the installed versions."""
    skip = {canonicalize_name(x) for x in excludes}
    out = []
    for req in project_requirements():
        name = canonicalize_name(req.name)
        if name in skip:
            continue
        extras = sorted(CLUSTER_EXTRAS.get(name, req.extras))
        spec = str(req.specifier)
        if pin:
            try:
                spec = f"=={metadata.version(req.name)}"
            except metadata.PackageNotFoundError:
                pass
        out.append(f"{req.name}{'[' + ','.join(extras) + ']' if extras else ''}{spec}")
    return out


def _copy_project(stage: Path) -> None:
    shutil.copytree(PACKAGE_DIR, stage / PACKAGE_DIR.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _install_from_pypi(stage: Path, requirements: list[str], platform_tag: str) -> None:
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(stage),
        "--only-binary=:all:", "--platform", platform_tag, "--python-version", "3.11",
        "--implementation", "cp", "--abi", "cp311", *requirements,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise EnvironmentProblem(f"pip could not fetch the cluster's dependencies for {platform_tag}: {tail[0]}")


def resolve_local(requirements: list[str], excludes: Iterable[str]) -> dict[str, metadata.Distribution]:
    """The installed distributions ``requirements`` need, transitively (markers and extras honoured)."""
    skip = {canonicalize_name(x) for x in excludes}
    env = default_environment()
    found: dict[str, metadata.Distribution] = {}
    extras_seen: dict[str, set[str]] = {}
    queue = [Requirement(r) for r in requirements]
    while queue:
        req = queue.pop()
        name = canonicalize_name(req.name)
        if name in skip:
            continue
        extras = set(req.extras)
        if name in found and extras <= extras_seen[name]:
            continue
        try:
            dist = found.get(name) or metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise EnvironmentProblem(f"{req.name} is not installed here; use --source pypi or `make install` first") from None
        found[name] = dist
        extras_seen.setdefault(name, set()).update(extras)
        for raw in dist.requires or []:
            sub = Requirement(raw)
            if sub.marker is None or any(sub.marker.evaluate({**env, "extra": e}) for e in (extras or {""})):
                queue.append(sub)
    return found


def _copy_installed(stage: Path, dists: dict[str, metadata.Distribution]) -> None:
    for dist in dists.values():
        root = Path(dist.locate_file("")).resolve()
        for entry in dist.files or []:
            src = Path(dist.locate_file(entry)).resolve()
            if "__pycache__" in entry.parts or not src.is_file() or not src.is_relative_to(root):
                continue  # compiled caches, scripts outside site-packages (bin/), stale RECORD lines
            dst = stage / src.relative_to(root)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def build(
    out_dir: Path = PROJECT_ROOT / "dist",
    *,
    source: str = "pypi",
    platform_tag: str = DEFAULT_PLATFORM,
    excludes: Iterable[str] = DEFAULT_EXCLUDES,
    compresslevel: int = 6,
) -> BuildReport:
    """Build ``authpulse-emr.tar.gz`` and ``authpulse_emr_main.py`` in ``out_dir``, next to the jar."""
    started = time.monotonic()
    jar_source = PROJECT_ROOT / ".jars" / JAR_NAME
    if not jar_source.is_file():
        raise EnvironmentProblem(f"{jar_source} is missing; run 'make jars' first (it compiles jvm/src)")
    excludes = tuple(excludes)
    requirements = cluster_requirements(excludes)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="authpulse-emr-") as tmp:
        stage = Path(tmp) / "environment"
        stage.mkdir()
        if source == "pypi":
            _install_from_pypi(stage, requirements, platform_tag)
            for name in excludes:  # pulled in transitively all the same: the cluster provides it
                for path in stage.glob(f"{canonicalize_name(name).replace('-', '_')}*"):
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
            versions = {p.name.split("-")[0]: p.name.split("-")[1].removesuffix(".dist-info")
                        for p in stage.glob("*.dist-info")}
        elif source == "local-env":
            if sys.version_info[:2] != (3, 11):
                raise EnvironmentProblem("--source local-env must run on Python 3.11, the cluster's version")
            dists = resolve_local(requirements, excludes)
            _copy_installed(stage, dists)
            versions = {d.metadata["Name"]: d.version for d in dists.values()}
            platform_tag = f"local:{platform.system().lower()}_{platform.machine()}"
        else:
            raise ConfigError(f"--source {source!r} must be pypi or local-env")
        _copy_project(stage)
        manifest = {
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "source": source,
            "platform": platform_tag,
            "python": "3.11",
            "requirements": requirements,
            "excluded": list(excludes),
            "distributions": dict(sorted(versions.items())),
        }
        (stage / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
        archive = out_dir / ARCHIVE_NAME
        partial = archive.with_suffix(".partial")
        with tarfile.open(partial, "w:gz", compresslevel=compresslevel) as tar:
            for path in sorted(stage.iterdir()):
                tar.add(path, arcname=path.name)
        os.replace(partial, archive)
    launcher = out_dir / LAUNCHER_NAME
    shutil.copy2(LAUNCHER_SOURCE, launcher)
    jar = out_dir / JAR_NAME
    shutil.copy2(jar_source, jar)
    return BuildReport(archive, launcher, jar, requirements, manifest["distributions"], archive.stat().st_size,
                       round(time.monotonic() - started, 1))


def upload(report: BuildReport, artifacts_uri: str, settings=None) -> list[str]:
    """Copy the archive, the launcher and the jar under ``artifacts_uri`` (s3://bucket/prefix)."""
    from authpulse_dagster.aws import aws_client

    if not artifacts_uri.startswith("s3://"):
        raise ConfigError(f"artifacts URI {artifacts_uri!r} must start with s3://")
    bucket, _, prefix = artifacts_uri[len("s3://"):].rstrip("/").partition("/")
    s3 = aws_client("s3", settings)
    uris = []
    for path in (report.archive, report.launcher, report.jar):
        key = f"{prefix}/{path.name}" if prefix else path.name
        s3.upload_file(str(path), bucket, key)
        uris.append(f"s3://{bucket}/{key}")
    return uris


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m authpulse_dagster.aws_emr.package", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "dist", help="output folder [dist/]")
    parser.add_argument("--source", choices=("pypi", "local-env"), default="pypi", help="where dependencies come from [pypi]")
    parser.add_argument("--platform", default=DEFAULT_PLATFORM, help=f"wheel platform for --source pypi [{DEFAULT_PLATFORM}]")
    parser.add_argument("--exclude", action="append", default=None, metavar="DIST",
                        help=f"leave a distribution out (repeatable) [{', '.join(DEFAULT_EXCLUDES)}]")
    parser.add_argument("--upload", action="store_true", help="upload to $AUTHPULSE_EMR_ARTIFACTS_URI after building")
    parser.add_argument("--upload-to", default=None, metavar="S3_URI", help="upload to this s3:// prefix instead")
    args = parser.parse_args(argv)
    from authpulse_dagster.errors import AuthPulseError

    try:
        excludes = DEFAULT_EXCLUDES if args.exclude is None else tuple(DEFAULT_EXCLUDES) + tuple(args.exclude)
        report = build(args.out, source=args.source, platform_tag=args.platform, excludes=excludes)
        print(f"built {report.archive} ({report.bytes / 1e6:.1f} MB, {len(report.distributions)} distributions, "
              f"{report.seconds}s), {report.launcher} and {report.jar}")
        if args.upload or args.upload_to:
            target = args.upload_to
            if target is None:
                from authpulse_dagster.settings import Settings

                target = Settings.from_env().require_aws().emr.artifacts_uri
            for uri in upload(report, target):
                print(f"uploaded {uri}")
    except AuthPulseError as exc:
        print(f"authpulse: error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


if __name__ == "__main__":
    main()
