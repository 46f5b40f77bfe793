"""The synthetic generator: deterministic, well-formed, and shaped like real
authentication logs (skew, affinity, service accounts, weekly rhythm)."""

import gzip
import re
from collections import Counter, defaultdict

import numpy as np
import pytest

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lanl.generator import GenerateStats, generate
from authpulse_dagster.lanl.readers import iter_batches

LINE = re.compile(rb"^(0|[1-9][0-9]*),U([1-9][0-9]*),C([1-9][0-9]*)$")
ARGS = dict(users=300, computers=600, days=7, events_per_user_day=40.0, progress=False)


@pytest.fixture(scope="module")
def week(tmp_path_factory) -> tuple[GenerateStats, bytes]:
    out = tmp_path_factory.mktemp("gen") / "week.txt"
    stats = generate(out, seed=11, **ARGS)
    return stats, out.read_bytes()


@pytest.fixture(scope="module")
def events(week) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _, data = week
    parsed = [LINE.match(line) for line in data.split(b"\n")[:-1]]
    assert all(parsed), "every line must be time,U<n>,C<n>"
    arr = np.array([[int(m[1]), int(m[2]), int(m[3])] for m in parsed], dtype=np.int64)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def test_stats_and_format(week, events):
    stats, data = week
    t, u, c = events
    assert data.endswith(b"\n")
    assert stats.events == len(t) > 0
    assert (stats.users, stats.computers, stats.days) == (300, 600, 7)
    assert stats.seconds >= 0
    assert u.min() >= 1 and u.max() <= 300
    assert c.min() >= 1 and c.max() <= 600


def test_all_lines_parse_as_lanl2014(week, tmp_path):
    stats, data = week
    p = tmp_path / "copy.txt"
    p.write_bytes(data)
    times = []
    for batch in iter_batches(p, "lanl2014"):
        times.extend(batch.column("dataset_time").to_pylist())
    assert len(times) == stats.events and None not in times


def test_times_sorted_and_within_the_days(events):
    t, _, _ = events
    assert np.all(np.diff(t) >= 0)
    assert t.min() >= 0 and t.max() < 7 * 86400


def test_same_seed_same_bytes_other_seed_differs(week, tmp_path):
    _, data = week
    again = tmp_path / "again.txt"
    generate(again, seed=11, **ARGS)
    assert again.read_bytes() == data
    other = tmp_path / "other.txt"
    generate(other, seed=12, **ARGS)
    assert other.read_bytes() != data


def test_user_activity_is_skewed(events):
    _, u, _ = events
    per_user = np.sort(np.bincount(u))[::-1]
    top = per_user[: len(per_user) // 10].sum() / per_user.sum()
    assert top > 0.25  # top 10% of users: clearly more than 10% of events


def test_users_stick_to_their_usual_computers(events):
    _, u, c = events
    by_user = defaultdict(Counter)
    for uu, cc in zip(u.tolist(), c.tolist()):
        by_user[uu][cc] += 1
    shares = [cnt.most_common(1)[0][1] / sum(cnt.values()) for cnt in by_user.values() if sum(cnt.values()) >= 20]
    assert np.median(shares) > 0.45


def test_weekend_is_quieter(events):
    t, _, _ = events
    per_day = np.bincount(t // 86400, minlength=7)
    assert per_day[5:].max() < 0.6 * per_day[:5].min()


def test_working_hours_peak(events):
    t, _, _ = events
    weekday = t[t // 86400 < 5]
    hours = np.bincount((weekday % 86400) // 3600, minlength=24)
    assert hours[9:17].sum() > 3 * hours[0:8].sum()


def test_service_accounts_touch_many_hosts(events):
    t, u, c = events
    distinct = defaultdict(set)
    for uu, cc in zip(u.tolist(), c.tolist()):
        distinct[uu].add(cc)
    wide = [uu for uu, hosts in distinct.items() if len(hosts) >= 30]
    assert 1 <= len(wide) <= 15  # ~1% of 300 users, plus no ordinary user that wide
    # ...and they work at night too.
    night = set(u[t % 86400 < 4 * 3600].tolist())
    assert set(wide) & night


def test_gzip_output_is_readable_and_identical(week, tmp_path):
    _, data = week
    out = tmp_path / "nested" / "dir" / "week.txt.gz"
    stats = generate(out, seed=11, **ARGS)
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(out.read_bytes()) == data
    assert stats.path == out
    first = out.read_bytes()
    generate(out, seed=11, **ARGS)
    assert out.read_bytes() == first  # no timestamp in the gzip header


def test_one_user_two_computers_one_day(tmp_path):
    out = tmp_path / "tiny.txt"
    stats = generate(out, users=1, computers=2, days=1, seed=0, events_per_user_day=50, progress=False)
    lines = out.read_bytes().split(b"\n")[:-1]
    assert len(lines) == stats.events > 0
    assert all(LINE.match(line) for line in lines)


@pytest.mark.parametrize(
    "kw",
    [
        dict(users=0),
        dict(computers=1),
        dict(days=0),
        dict(seed=-1),
        dict(users=2.5),
        dict(events_per_user_day=0),
        dict(events_per_user_day=float("nan")),
    ],
)
def test_bad_arguments(tmp_path, kw):
    args = dict(users=10, computers=10, days=1, seed=1, events_per_user_day=5.0, progress=False) | kw
    with pytest.raises(ConfigError):
        generate(tmp_path / "x.txt", **args)
    assert not (tmp_path / "x.txt").exists()


def test_output_path_that_is_a_directory(tmp_path):
    with pytest.raises(ConfigError, match="directory"):
        generate(tmp_path, users=10, computers=10, days=1, seed=1, progress=False)


def test_corrupt_rate_adds_damaged_lines_and_keeps_the_valid_events(tmp_path):
    from authpulse_dagster.lanl.generator import generate as gen

    clean = gen(tmp_path / "clean.txt", users=40, computers=80, days=2, seed=5, progress=False)
    noisy = gen(tmp_path / "noisy.txt", users=40, computers=80, days=2, seed=5, progress=False, corrupt_rate=0.01)
    clean_lines = (tmp_path / "clean.txt").read_bytes().splitlines()
    noisy_lines = (tmp_path / "noisy.txt").read_bytes().splitlines()
    assert noisy.events == clean.events and noisy.corrupt_lines > 0
    assert len(noisy_lines) == len(clean_lines) + noisy.corrupt_lines
    import re

    valid = [line for line in noisy_lines if re.fullmatch(rb"[0-9]+,U[0-9]+,C[0-9]+", line)]
    assert valid == clean_lines
