"""Local settings: a value that cannot work is refused with one line naming the variable (and what to do)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.settings import Settings, SparkSettings


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("AUTHPULSE_ENV", "bogus", "AUTHPULSE_ENV='bogus' is not 'local' or 'aws'"),
        ("AUTHPULSE_MOTO_PORT", "70000", "AUTHPULSE_MOTO_PORT=70000 must be between 1 and 65535"),
        ("AUTHPULSE_MOTO_PORT", "http", "AUTHPULSE_MOTO_PORT='http' is not a whole number"),
        ("AUTHPULSE_DATASET_EPOCH", "9999-12-31", "passes 9999-12-31"),
        ("AUTHPULSE_DATASET_EPOCH", "1969-12-31", "is before 1970-01-01"),
        ("AUTHPULSE_DATASET_EPOCH", "yesterday", "is not an ISO-8601 date"),
        ("AUTHPULSE_SPARK_MASTER", "localhost", "AUTHPULSE_SPARK_MASTER='localhost' is not a Spark master"),
        ("AUTHPULSE_SPARK_DRIVER_MEMORY", "4 GB", "AUTHPULSE_SPARK_DRIVER_MEMORY='4 GB' is not a JVM memory size"),
        ("AUTHPULSE_SPARK_SHUFFLE_PARTITIONS", "0", "AUTHPULSE_SPARK_SHUFFLE_PARTITIONS=0 must be at least 1"),
        ("AUTHPULSE_SPARK_UI", "maybe", "AUTHPULSE_SPARK_UI='maybe' must be on or off"),
    ],
)
def test_unusable_values_are_refused_by_name(tmp_path, name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env({"AUTHPULSE_HOME": str(tmp_path / "home"), name: value})


def test_a_home_that_is_a_file_is_refused(tmp_path) -> None:
    f = tmp_path / "not-a-folder"
    f.write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        Settings.from_env({"AUTHPULSE_HOME": str(f)})


def test_usable_values_pass(tmp_path) -> None:
    s = Settings.from_env({"AUTHPULSE_HOME": str(tmp_path / "new" / "home"), "AUTHPULSE_ENV": " Local ",
                           "AUTHPULSE_MOTO_PORT": "65535", "AUTHPULSE_DATASET_EPOCH": "1970-01-01"})
    assert s.env == "local" and s.moto_port == 65535 and s.dataset_epoch.year == 1970


def test_the_cli_prints_one_line_and_exits_2(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AUTHPULSE_HOME": str(tmp_path / "h"), "AUTHPULSE_ENV": "bogus"}
    authpulse = str(Path(sys.executable).parent / "authpulse")  # the installed entry point
    done = subprocess.run([authpulse, "local", "env"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "authpulse: error: AUTHPULSE_ENV='bogus' is not 'local' or 'aws'; set one of them or unset it (local)"
    ]


def test_a_file_spanning_more_days_than_the_bound_is_refused_before_anything_runs(tmp_path) -> None:
    from authpulse_dagster.demo import day_range
    from authpulse_dagster.errors import InputError

    f = tmp_path / "two-lines.txt"
    f.write_bytes(b"1,U1,C1\n94608000,U2,C2\n")  # one stray time three years on
    settings = Settings.from_env({"AUTHPULSE_HOME": str(tmp_path / "home")})
    with pytest.raises(InputError, match=r"spans 1096 days .* raise AUTHPULSE_MAX_RUN_DAYS"):
        day_range(settings, f, "lanl2014")
    wide = Settings.from_env({"AUTHPULSE_HOME": str(tmp_path / "home"), "AUTHPULSE_MAX_RUN_DAYS": "2000"})
    first, last = day_range(wide, f, "lanl2014")
    assert (last - first).days + 1 == 1096


def test_spark_launch_settings_are_read_with_the_rest(tmp_path) -> None:
    home = str(tmp_path / "home")
    assert Settings.from_env({"AUTHPULSE_HOME": home}).spark == SparkSettings()
    s = Settings.from_env({"AUTHPULSE_HOME": home, "AUTHPULSE_SPARK_MASTER": "yarn", "AUTHPULSE_SPARK_DRIVER_MEMORY": "2048m",
                           "AUTHPULSE_SPARK_SHUFFLE_PARTITIONS": "64", "AUTHPULSE_SPARK_UI": "on", "AUTHPULSE_JARS_DIR": str(tmp_path)})
    assert s.spark == SparkSettings(master="yarn", driver_memory="2048m", shuffle_partitions=64, ui=True, jars_dir=tmp_path)
    assert not s.spark.local and SparkSettings(master="local[2]").local
