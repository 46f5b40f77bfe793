"""The Chromium fixture's install path, against a stand-in apt-get (the real one is not run here)."""

from __future__ import annotations

import os
import stat

import pytest

from tests.fixtures import browser as browser_fixture

FAKE_APT = """#!/bin/sh
echo "$@" >> "$FAKE_APT_LOG"
case "$*" in
  update) [ -n "$FAKE_APT_UPDATE_FAILS" ] && { echo "E: network unreachable" >&2; exit 100; }
          touch "$FAKE_APT_UPDATED"; exit 0 ;;
  *install*) [ -f "$FAKE_APT_UPDATED" ] || { echo "E: Unable to locate package chromium" >&2; exit 100; }
             printf '#!/bin/sh\\n' > "$FAKE_CHROMIUM"; chmod +x "$FAKE_CHROMIUM"; exit 0 ;;
esac
exit 1
"""


@pytest.fixture
def fake_apt(tmp_path, monkeypatch):
    apt = tmp_path / "apt-get"
    apt.write_text(FAKE_APT)
    apt.chmod(apt.stat().st_mode | stat.S_IXUSR)
    target = tmp_path / "bin" / "chromium"
    target.parent.mkdir()
    log = tmp_path / "apt.log"
    monkeypatch.setenv("FAKE_APT_LOG", str(log))
    monkeypatch.setenv("FAKE_APT_UPDATED", str(tmp_path / "updated"))
    monkeypatch.setenv("FAKE_CHROMIUM", str(target))
    monkeypatch.setattr(browser_fixture.shutil, "which", lambda name: str(apt) if name == "apt-get" else None)
    monkeypatch.setattr(browser_fixture.os, "geteuid", lambda: 0)  # CI runs as root
    return target, log


def test_an_existing_binary_is_used_as_is(fake_apt):
    target, log = fake_apt
    target.write_text("#!/bin/sh\n")
    target.chmod(0o755)
    assert browser_fixture.install_chromium(str(target)) == str(target)
    assert not log.exists()  # apt-get never ran


def test_installs_refreshing_package_lists_when_needed(fake_apt):
    target, log = fake_apt
    assert browser_fixture.install_chromium(str(target)) == str(target)
    assert os.access(target, os.X_OK)
    assert log.read_text().splitlines() == [
        "install -y --no-install-recommends chromium", "update", "install -y --no-install-recommends chromium",
    ]


def test_a_failed_install_fails_the_test_with_the_reason(fake_apt, monkeypatch):
    target, _ = fake_apt
    monkeypatch.setenv("FAKE_APT_UPDATE_FAILS", "1")
    with pytest.raises(pytest.fail.Exception, match=r"`apt-get update` failed \(exit 100\).*network unreachable"):
        browser_fixture.install_chromium(str(target))


def test_without_root_it_says_how_to_install(fake_apt, monkeypatch):
    target, _ = fake_apt
    monkeypatch.setattr(browser_fixture.os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.fail.Exception, match="needs root: run `apt-get install -y chromium` as root"):
        browser_fixture.install_chromium(str(target))
