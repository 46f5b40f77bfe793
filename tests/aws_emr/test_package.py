"""``make emr-package``: the archive EMR unpacks as ./environment runs the step entry points on its own.

The archive is built from this virtualenv (``--source local-env``, offline);
``make emr-package`` fetches the same distributions as manylinux wheels from
PyPI instead (``--source pypi``), which needs the network and is not run here.
The import check runs a fresh interpreter with ``-S`` (no site-packages) and
``PYTHONPATH`` = the unpacked archive + a folder holding only ``pyspark`` and
``py4j``, standing in for what EMR's Spark puts on the path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from authpulse_dagster.aws import aws_client
from authpulse_dagster.aws_emr.layout import ARCHIVE_NAME, LAUNCHER_NAME
from authpulse_dagster.aws_emr.package import DEFAULT_EXCLUDES, MANIFEST_NAME, build, cluster_requirements, upload
from tests.fixtures.aws_mode import AwsMode, aws_mode  # noqa: F401


def test_cluster_requirements_leave_out_what_emr_provides() -> None:
    reqs = cluster_requirements()
    names = {r.split("[")[0].split("=")[0].lower() for r in reqs}
    assert {"pyspark", "moto", "duckdb", "dagster-webserver", "dagster-aws"}.isdisjoint(names)
    assert {"pyiceberg", "pyarrow", "boto3", "dagster"} <= names
    assert any(r.startswith("pyiceberg[glue,pyarrow]==") for r in reqs)
    assert all("==" in r for r in reqs)  # pinned to what the project is tested with


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("dist")
    report = build(out, source="local-env", compresslevel=1)
    environment = tmp_path_factory.mktemp("unpacked") / "environment"
    with tarfile.open(report.archive) as tar:
        tar.extractall(environment, filter="data")
    return report, environment


def _cluster_python(environment: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    import py4j
    import pyspark

    spark_python = tmp_path / "spark-python"  # stands in for $SPARK_HOME/python on EMR
    spark_python.mkdir(exist_ok=True)
    for module in (pyspark, py4j):
        link = spark_python / module.__name__
        if not link.exists():
            link.symlink_to(Path(module.__file__).parent)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{environment}{os.pathsep}{spark_python}", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-S", *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_archive_layout_and_manifest(built) -> None:
    report, environment = built
    assert report.archive.name == ARCHIVE_NAME and report.launcher.name == LAUNCHER_NAME
    top = {p.name for p in environment.iterdir()}
    assert {"authpulse_dagster", "pyarrow", "pyiceberg", "dagster_pipes", "boto3", MANIFEST_NAME} <= top
    assert not top & {"pyspark", "moto", "duckdb", "dagster_webserver"}
    assert not list(environment.rglob("__pycache__"))
    manifest = json.loads((environment / MANIFEST_NAME).read_text())
    assert manifest["excluded"] == list(DEFAULT_EXCLUDES) and manifest["python"] == "3.11"
    assert {"pyiceberg", "pyarrow", "dagster-pipes"} <= set(manifest["distributions"])


@pytest.mark.slow
def test_step_entry_point_imports_from_the_archive_alone(built, tmp_path: Path) -> None:
    _, environment = built
    code = (
        "import json, importlib\n"
        "mods = ['authpulse_dagster.steps.__main__', 'authpulse_dagster.live.stream_job', 'authpulse_dagster.aws_emr.launcher',"
        " 'pyiceberg.catalog.glue', 'pyarrow', 'dagster_pipes', 'boto3', 'pyspark']\n"
        "files = {m: importlib.import_module(m).__file__ for m in mods}\n"
        "try:\n    import moto\n    files['moto'] = moto.__file__\nexcept ImportError:\n    files['moto'] = None\n"
        "print(json.dumps(files))\n"
    )
    result = _cluster_python(environment, tmp_path, "-c", code)
    assert result.returncode == 0, result.stderr[-3000:]
    files = json.loads(result.stdout.strip().splitlines()[-1])
    assert files.pop("moto") is None  # the virtualenv is out of reach
    assert files.pop("pyspark").startswith(str(tmp_path / "spark-python"))
    for module, path in files.items():
        assert path.startswith(str(environment)), (module, path)


@pytest.mark.slow
def test_launcher_runs_the_step_module_from_the_archive(built, tmp_path: Path) -> None:
    report, environment = built
    result = _cluster_python(environment, tmp_path, str(report.launcher), "authpulse_dagster.steps", "--help")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("usage: python -m authpulse_dagster.steps")
    assert "--dagster-pipes-context" not in result.stdout  # bootstrap arguments stay hidden


@pytest.mark.slow
def test_upload_puts_both_files_under_the_artifacts_prefix(built, aws_mode: AwsMode) -> None:
    report, _ = built
    artifacts = aws_mode.settings.require_aws().emr.artifacts_uri
    uris = upload(report, artifacts, aws_mode.settings)
    emr = aws_mode.settings.require_aws().emr
    assert uris == [emr.archive_uri, emr.launcher_uri, emr.jar_uri]
    s3 = aws_client("s3", aws_mode.settings)
    head = s3.head_object(Bucket=aws_mode.buckets["artifacts"], Key=f"emr/{ARCHIVE_NAME}")
    assert head["ContentLength"] == report.archive.stat().st_size
