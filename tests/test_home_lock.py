"""One pipeline run per data home: a second process is refused with one line, a released lock is free again."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from authpulse_dagster.errors import EnvironmentProblem
from authpulse_dagster.home_lock import exclusive_home
from authpulse_dagster.settings import Settings

HOLD = """
import sys, time
from authpulse_dagster.home_lock import exclusive_home
from authpulse_dagster.settings import Settings
with exclusive_home(Settings.from_env({"AUTHPULSE_HOME": sys.argv[1]}), "run"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_process_is_refused_naming_the_holder_and_a_killed_holder_frees_the_home(tmp_path):
    settings = Settings.from_env({"AUTHPULSE_HOME": str(tmp_path / "home")})
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(settings.home)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(EnvironmentProblem, match=rf"in use by authpulse run \(pid {holder.pid}\); wait for it"):
            with exclusive_home(settings, "demo"):
                pass
    finally:
        holder.kill()  # no clean exit: the kernel releases the flock
        holder.wait(timeout=10)
    deadline = time.monotonic() + 10
    while True:
        try:
            with exclusive_home(settings, "demo"):
                break
        except EnvironmentProblem:
            assert time.monotonic() < deadline, "a killed holder's lock was not released"
            time.sleep(0.1)


def test_the_same_process_can_take_it_again_after_release(tmp_path):
    settings = Settings.from_env({"AUTHPULSE_HOME": str(tmp_path / "home")})
    with exclusive_home(settings, "run"):
        pass
    with exclusive_home(settings, "run"):
        assert (settings.run_dir / "pipeline.lock").read_text().startswith("authpulse run (pid ")
