"""LANL 2015 output of the generator: valid lines, a sensible src/dst model, benign failures,
and LANL 2014 output left exactly as it was."""

import gzip
import hashlib
import re
from collections import Counter

import numpy as np
import pytest

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lanl.generator import _population, generate
from authpulse_dagster.lanl.readers import iter_batches

LINE_2015 = re.compile(
    rb"^(0|[1-9][0-9]*),U([1-9][0-9]*)@DOM1,U([1-9][0-9]*)@DOM1,C([1-9][0-9]*),C([1-9][0-9]*),"
    rb"(Kerberos|NTLM|Negotiate),(Interactive|Network|Batch|Service|Unlock),LogOn,(Success|Fail)$"
)
ARGS = dict(users=300, computers=600, days=7, events_per_user_day=40.0, progress=False)


@pytest.fixture(scope="module")
def week_2015(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen15") / "week.txt"
    stats = generate(out, seed=11, fmt="lanl2015", **ARGS)
    return stats, out.read_bytes()


@pytest.fixture(scope="module")
def rows(week_2015):
    _, data = week_2015
    matches = [LINE_2015.match(line) for line in data.split(b"\n")[:-1]]
    assert all(matches), "every line must be a valid LANL 2015 line"
    return [m.groups() for m in matches]


def test_lanl2014_bytes_unchanged_by_2015_support(tmp_path):
    # Digest of this exact call before LANL 2015 output and attacks existed.
    out = tmp_path / "a.txt"
    generate(out, seed=11, **ARGS)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == "42015d3b2ab6413b4cf4d823b393a444a0c9333132caf3f8f173182261a4e7f0"


def test_same_events_as_lanl2014_plus_failed_retries(week_2015, rows, tmp_path):
    stats, _ = week_2015
    out = tmp_path / "a14.txt"
    generate(out, seed=11, **ARGS)
    events_2014 = [tuple(line.split(b",")) for line in out.read_bytes().split(b"\n")[:-1]]
    # Beyond the 2014 events, the 2015 file only has the inserted failed attempts.
    got = Counter((t, b"U" + su, b"C" + dst) for t, su, _, _, dst, *_ in rows)
    want = Counter(events_2014)
    assert not (want - got), "every 2014 event appears in the 2015 file"
    extra = got - want
    assert sum(extra.values()) == stats.events - len(events_2014) > 0
    fails = sum(1 for r in rows if r[7] == b"Fail")
    assert sum(extra.values()) <= fails  # every extra line is a failed attempt


def test_stats_parse_and_sorted(week_2015, rows, tmp_path):
    stats, data = week_2015
    assert stats.format == "lanl2015" and stats.events == len(rows)
    times = np.array([int(r[0]) for r in rows])
    assert np.all(np.diff(times) >= 0) and times.max() < 7 * 86400
    p = tmp_path / "copy.txt"
    p.write_bytes(data)
    parsed = [t for b in iter_batches(p, "lanl2015") for t in b.column("dataset_time").to_pylist()]
    assert len(parsed) == stats.events and None not in parsed


def test_src_dst_model(rows):
    assert all(su == du for _, su, du, *_ in rows)  # dst user is the user itself
    local = [r for r in rows if r[3] == r[4]]
    remote = [r for r in rows if r[3] != r[4]]
    assert local and remote
    people_local = Counter(r[6] for r in local if r[5] == b"Kerberos")
    assert set(people_local) <= {b"Interactive", b"Unlock"} and people_local[b"Interactive"] > people_local[b"Unlock"] > 0
    assert {r[6] for r in remote} == {b"Network"}
    assert {r[5] for r in remote} == {b"Kerberos", b"NTLM"}
    # An ordinary user nearly always starts from one computer (the workstation).
    by_user = {}
    for r in rows:
        by_user.setdefault(r[1], Counter())[r[3]] += 1
    shares = [c.most_common(1)[0][1] / sum(c.values()) for c in by_user.values() if sum(c.values()) >= 20]
    assert np.median(shares) == 1.0


def test_service_accounts_come_from_a_few_of_their_hosts(rows):
    # The population is the first thing drawn from the seed, so it can be rebuilt here.
    pop = _population(np.random.default_rng(11), ARGS["users"], ARGS["computers"], ARGS["events_per_user_day"])
    service = {str(u + 1).encode() for u in np.flatnonzero(pop.is_service)}
    dsts, srcs = {}, {}
    for r in rows:
        dsts.setdefault(r[1], set()).add(r[4])
        srcs.setdefault(r[1], set()).add(r[3])
    assert service and all(len(dsts[u]) >= 20 and len(srcs[u]) <= 3 for u in service)
    svc_local = [r for r in rows if r[1] in service and r[3] == r[4]]
    assert svc_local and all(r[5] == b"Negotiate" and r[6] in (b"Service", b"Batch") for r in svc_local)
    assert all(r[5] == b"Kerberos" and r[6] == b"Network" for r in rows if r[1] in service and r[3] != r[4])


def test_about_one_percent_benign_failures_mostly_retried(rows):
    fails = [i for i, r in enumerate(rows) if r[7] == b"Fail"]
    share = len(fails) / len(rows)
    assert 0.005 < share < 0.02
    # Most failures are followed within 30 s by the same user's attempt to the same computer from the same source.
    retried = 0
    for i in fails:
        t, user, _, src, dst = rows[i][:5]
        for r in rows[i + 1 : i + 400]:
            if int(r[0]) - int(t) > 30:
                break
            if (r[1], r[3], r[4], r[7]) == (user, src, dst, b"Success"):
                retried += 1
                break
    assert retried / len(fails) > 0.7
    # ...and there are no bursts: at most a handful of failures per user within 5 minutes.
    by_user = {}
    for i in fails:
        by_user.setdefault(rows[i][1], []).append(int(rows[i][0]))
    worst = max(max(np.searchsorted(ts, np.array(ts) + 300) - np.arange(len(ts))) for ts in by_user.values())
    assert worst <= 8


def test_deterministic_and_gzip(week_2015, tmp_path):
    _, data = week_2015
    out = tmp_path / "w.txt.gz"
    generate(out, seed=11, fmt="lanl2015", **ARGS)
    assert gzip.decompress(out.read_bytes()) == data
    generate(tmp_path / "other.txt", seed=12, fmt="lanl2015", **ARGS)
    assert (tmp_path / "other.txt").read_bytes() != data


def test_corrupt_lines_in_2015(tmp_path):
    clean = generate(tmp_path / "c.txt", users=40, computers=80, days=2, seed=5, progress=False, fmt="lanl2015")
    noisy = generate(tmp_path / "n.txt", users=40, computers=80, days=2, seed=5, progress=False, fmt="lanl2015", corrupt_rate=0.01)
    clean_lines = (tmp_path / "c.txt").read_bytes().splitlines()
    valid = [line for line in (tmp_path / "n.txt").read_bytes().splitlines() if LINE_2015.match(line)]
    assert noisy.corrupt_lines > 0 and valid == clean_lines and clean.events == noisy.events


def test_unknown_format(tmp_path):
    with pytest.raises(ConfigError, match="unknown format"):
        generate(tmp_path / "x.txt", users=5, computers=5, days=1, seed=1, progress=False, fmt="lanl2016")
