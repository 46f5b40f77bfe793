"""Attack scenarios injected by the generator: each one there and shaped as described, labels
matching the data, deterministic, and the benign events untouched."""

import json
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner

from authpulse_dagster.cli import generate as generate_cli
from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lanl.generator import _population, generate
from authpulse_dagster.lanl.labels import default_labels_path, read_labels, read_sidecar, sidecar_path
from authpulse_dagster.lanl.readers import iter_batches
from authpulse_dagster.lanl.scenarios import SCENARIOS, Difficulty

ARGS = dict(users=200, computers=400, days=12, seed=5, events_per_user_day=30.0, progress=False)
DAY = 86_400


def _rows(path, fmt):
    """(time, user, src, dst, success) per line; 2014 lines have src = dst."""
    out = []
    for line in path.read_bytes().split(b"\n")[:-1]:
        f = line.decode().split(",")
        if fmt == "lanl2014":
            out.append((int(f[0]), f[1], f[2], f[2], True))
        else:
            out.append((int(f[0]), f[1].split("@")[0], f[3], f[4], f[8] == "Success"))
    return out


def _run(tmp_path_factory, fmt, attacks=True, **kw):
    d = tmp_path_factory.mktemp(fmt)
    out = d / "auth.txt"
    scenarios = Difficulty().scenarios("all", fmt) if attacks else None
    stats = generate(out, fmt=fmt, attacks=scenarios, **(ARGS | kw))
    return stats, out


@pytest.fixture(scope="module", params=["lanl2014", "lanl2015"])
def run(request, tmp_path_factory):
    """Per format: stats, rows with attacks, rows without, labels, sidecar victims, raw sidecar."""
    fmt = request.param
    stats, out = _run(tmp_path_factory, fmt)
    _, clean = _run(tmp_path_factory, fmt, attacks=False)
    side = json.loads(sidecar_path(stats.labels_path).read_text())
    return dict(
        fmt=fmt, stats=stats, out=out, rows=_rows(out, fmt), clean=_rows(clean, fmt),
        labels=read_labels(stats.labels_path), victims=read_sidecar(sidecar_path(stats.labels_path)), side=side,
    )  # fmt: skip


def _victims(run, scenario):
    return [u for u, v in run["victims"].items() if v.scenario == scenario]


def _labels_of(run, user):
    return [lab for lab in run["labels"] if lab.user == user]


def _history(run, user, before):
    """Computers the user touched (as source or destination) in the attack-free data before ``before``."""
    return {c for t, u, s, d, _ in run["clean"] if u == user and t < before for c in (s, d)}


def test_every_scenario_has_distinct_ordinary_victims(run):
    expected = [n for n, cls in SCENARIOS.items() if run["fmt"] in cls.formats]
    assert list(run["side"]["scenarios"]) == expected
    assert all(len(_victims(run, n)) == 3 for n in expected)
    assert len(run["victims"]) == 3 * len(expected) == run["stats"].attacked_users
    pop = _population(np.random.default_rng(ARGS["seed"]), ARGS["users"], ARGS["computers"], ARGS["events_per_user_day"])
    assert not any(pop.is_service[int(u[1:]) - 1] for u in run["victims"])


def test_labels_are_sorted_and_match_events_in_the_file(run):
    labels = run["labels"]
    assert len(labels) == run["stats"].attack_events > 0
    assert [lab.time for lab in labels] == sorted(lab.time for lab in labels)
    assert {lab.domain for lab in labels} == {"DOM1"}
    in_file = Counter((t, u, s, d) for t, u, s, d, _ in run["rows"])
    wanted = Counter((lab.time, lab.user, lab.src_computer, lab.dst_computer) for lab in labels)
    assert not (wanted - in_file), "every label is an event of the file"
    if run["fmt"] == "lanl2014":
        assert all(lab.src_computer == lab.dst_computer for lab in labels)


def test_attacks_only_after_the_warm_up(run):
    assert min(lab.time for lab in run["labels"]) >= 7 * DAY
    assert all(min(v.days) >= 7 for v in run["victims"].values())


def test_benign_events_unchanged_except_the_dormant_victims(run):
    silent = {u: v["silent_from_day"] for u, v in run["side"]["victims"].items() if v["silent_from_day"] is not None}
    assert len(silent) == 3
    labelled = Counter((lab.time, lab.user, lab.src_computer, lab.dst_computer) for lab in run["labels"])
    benign = []
    for row in run["rows"]:
        key = row[:4]
        if labelled[key]:
            labelled[key] -= 1
        else:
            benign.append(row)
    removed = [r for r in run["clean"] if r[1] in silent and r[0] >= silent[r[1]] * DAY]
    assert removed, "the dormant victims had activity to remove"
    expected = [r for r in run["clean"] if not (r[1] in silent and r[0] >= silent[r[1]] * DAY)]
    assert benign == expected  # same events in the same order


def test_deterministic(run, tmp_path):
    stats, out = run["stats"], run["out"]
    again = tmp_path / "auth.txt"
    generate(again, fmt=run["fmt"], attacks=Difficulty().scenarios("all", run["fmt"]), **ARGS)
    assert again.read_bytes() == out.read_bytes()
    assert default_labels_path(again).read_bytes() == stats.labels_path.read_bytes()
    side = sidecar_path(default_labels_path(again)).read_text()
    assert side == sidecar_path(stats.labels_path).read_text()


def test_lateral_movement(run):
    for user in _victims(run, "lateral_movement"):
        labels = _labels_of(run, user)
        dsts = [lab.dst_computer for lab in labels]
        assert len(dsts) == len(set(dsts)) == 25
        first, last = labels[0].time, labels[-1].time
        assert last - first <= 45 * 60 and 9 <= (first % DAY) // 3600 < 16
        assert not set(dsts) & _history(run, user, (first // DAY + 1) * DAY)
        if run["fmt"] == "lanl2015":
            workstation = Counter(s for t, u, s, d, _ in run["clean"] if u == user).most_common(1)[0][0]
            assert {lab.src_computer for lab in labels} == {workstation}


def test_rare_source(run):
    users_of = {}
    for _, u, s, d, _ in run["clean"]:
        for c in {s, d}:
            users_of.setdefault(c, set()).add(u)
    for user in _victims(run, "rare_source"):
        labels = _labels_of(run, user)
        assert len(labels) == 6 and all(9 <= (lab.time % DAY) // 3600 < 17 for lab in labels)
        rare = labels[0].dst_computer  # the logon at the rare host comes first
        assert len(users_of.get(rare, set())) <= 2  # almost nobody else ever touches it
        targets = {lab.dst_computer for lab in labels[1:]}
        assert len(targets) == 3
        assert not (targets | {rare}) & _history(run, user, (labels[0].time // DAY + 1) * DAY)
        if run["fmt"] == "lanl2015":
            assert {lab.src_computer for lab in labels} == {rare}


def test_dormant_wakeup(run):
    for user in _victims(run, "dormant_wakeup"):
        info = run["side"]["victims"][user]
        wake, silent_from = info["days"][0], info["silent_from_day"]
        assert wake - silent_from >= 8
        mine = [r for r in run["rows"] if r[1] == user]
        assert any(r[0] < silent_from * DAY for r in mine), "active at the start"
        assert not any(silent_from * DAY <= r[0] < wake * DAY for r in mine), "silent before waking"
        labels = _labels_of(run, user)
        assert len({lab.dst_computer for lab in labels}) == 5
        assert all(lab.time // DAY == wake and 1 <= (lab.time % DAY) // 3600 < 5 for lab in labels)
        new = {lab.dst_computer for lab in labels} - _history(run, user, silent_from * DAY)
        assert len(new) == 4  # all but the own workstation


def test_slow_spread(run):
    for user in _victims(run, "slow_spread"):
        labels = _labels_of(run, user)
        days = sorted({lab.time // DAY for lab in labels})
        assert len(days) == 5 and days == list(range(days[0], days[0] + 5))
        earlier: set[str] = set()
        for day in days:
            todays = [lab for lab in labels if lab.time // DAY == day]
            targets = {lab.dst_computer for lab in todays}
            assert 2 <= len(targets) <= 3
            assert all(18 <= (lab.time % DAY) // 3600 < 23 for lab in todays)
            gaps = np.diff([lab.time for lab in todays])
            assert gaps.min() >= 15 * 60  # spread out, not bursty
            # New that day: neither in the user's own history so far nor reached on an earlier attack day.
            assert not targets & (_history(run, user, (day + 1) * DAY) | earlier)
            earlier |= targets


def test_failed_logon_burst_only_in_2015(run):
    victims = _victims(run, "failed_logon_burst")
    if run["fmt"] == "lanl2014":
        assert victims == []
        return
    for user in victims:
        labels = _labels_of(run, user)
        status = {(t, u, s, d): ok for t, u, s, d, ok in run["rows"] if u == user}
        outcome = [status[(lab.time, lab.user, lab.src_computer, lab.dst_computer)] for lab in labels]
        assert outcome == [False] * 30 + [True]
        assert labels[29].time - labels[0].time <= 300
        assert len({lab.dst_computer for lab in labels}) == 2


def test_lanl2015_attack_data_passes_silver_validation(spark, tmp_path):
    """The project's own Spark parser accepts every generated 2015 line, attacks included."""
    from datetime import datetime, timezone

    from authpulse_dagster.transforms.validation import ParseOptions, parse_records
    from tests.transforms.helpers import bronze_rows

    out = tmp_path / "small.txt"
    stats = generate(
        out, users=40, computers=120, days=12, seed=3, events_per_user_day=4.0, progress=False, fmt="lanl2015",
        attacks=Difficulty(victims=1).scenarios("all", "lanl2015"),
    )  # fmt: skip
    lines = out.read_bytes().split(b"\n")[:-1]
    assert len(lines) == stats.events
    opts = ParseOptions(epoch=datetime(2024, 1, 1, tzinfo=timezone.utc))
    parsed = parse_records(bronze_rows(spark, lines, "lanl2015"), opts)
    got = parsed.selectExpr(
        "count(*) AS n",
        "count(reason) AS rejected",
        "count_if(NOT success) AS fails",
        "count_if(src_computer_id IS NULL OR user_domain != 'DOM1' OR dst_user_id != user_id) AS odd",
    ).first()
    assert (got["n"], got["rejected"], got["odd"]) == (len(lines), 0, 0)
    assert got["fails"] == sum(1 for line in lines if line.endswith(b",Fail")) >= 30
    # ...and the bronze reader gives every line a time.
    times = [t for b in iter_batches(out, "lanl2015") for t in b.column("dataset_time").to_pylist()]
    assert None not in times and len(times) == len(lines)


def test_intensity_scales_counts_and_distance_from_normal(tmp_path):
    subtle = {s.name: s for s in Difficulty(intensity=0.5).scenarios("all", "lanl2015")}
    assert subtle["lateral_movement"].targets == 12 and subtle["lateral_movement"].window_minutes == 90
    assert subtle["rare_source"].events_total == 3 and subtle["rare_source"].targets == 2
    assert subtle["dormant_wakeup"].computers == 2 and subtle["dormant_wakeup"].wake_hours == (3, 6)
    assert subtle["slow_spread"].per_day == (1, 2) and subtle["slow_spread"].span_days == 4
    assert subtle["failed_logon_burst"].failures == 15
    loud = {s.name: s for s in Difficulty(intensity=2.0).scenarios("all", "lanl2015")}
    assert loud["lateral_movement"].targets == 50 and loud["failed_logon_burst"].failures == 60
    # Fewer labelled events at lower intensity, on the same data and victims.
    counts = {}
    for i in (0.5, 1.0):
        stats = generate(tmp_path / f"i{i}.txt", fmt="lanl2015", attacks=Difficulty(intensity=i).scenarios("all", "lanl2015"), **ARGS)
        counts[i] = stats.attack_events
        assert stats.attacked_users == 15
    assert counts[0.5] < 0.6 * counts[1.0]


def test_a_subset_of_scenarios_and_custom_labels_path(tmp_path):
    labels = tmp_path / "lab" / "red.txt"
    stats = generate(tmp_path / "a.txt", attacks=Difficulty(victims=2).scenarios("lateral_movement,rare_source", "lanl2014"), labels=labels, **ARGS)
    assert stats.labels_path == labels and stats.sidecar_path == tmp_path / "lab" / "red.scenarios.json"
    victims = read_sidecar(stats.sidecar_path)
    assert Counter(v.scenario for v in victims.values()) == {"lateral_movement": 2, "rare_source": 2}
    assert victims[next(iter(victims))].params["targets"] in (25, 3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: Difficulty().scenarios("failed_logon_burst", "lanl2014"), "needs format lanl2015"),
        (lambda: Difficulty().scenarios("nope", "lanl2014"), "unknown attack scenario 'nope'"),
        (lambda: Difficulty().scenarios("", "lanl2014"), "no attack scenario"),
        (lambda: Difficulty(intensity=0), "intensity"),
        (lambda: Difficulty(victims=0), "victims"),
        (lambda: Difficulty(start_day=0), "start day"),
    ],
)
def test_bad_scenario_requests(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


def test_generation_refuses_what_cannot_fit(tmp_path):
    small = ARGS | dict(days=10)
    with pytest.raises(ConfigError, match="slow_spread needs at least 12 days"):
        generate(tmp_path / "a.txt", attacks=Difficulty().scenarios("all", "lanl2014"), **small)
    with pytest.raises(ConfigError, match="attack victims requested"):
        generate(tmp_path / "a.txt", attacks=Difficulty(victims=40).scenarios("all", "lanl2014"), **ARGS)
    with pytest.raises(ConfigError, match="needs attacks"):
        generate(tmp_path / "a.txt", labels=tmp_path / "l.txt", **ARGS)
    with pytest.raises(ConfigError, match="needs format lanl2015"):
        generate(tmp_path / "a.txt", attacks=Difficulty().scenarios("all", "lanl2015"), **ARGS)
    assert not list(tmp_path.iterdir())


def test_labels_and_sidecar_paths():
    from pathlib import Path

    assert default_labels_path(Path("d/auth.txt.gz")) == Path("d/auth.redteam.txt")
    assert default_labels_path(Path("d/auth")) == Path("d/auth.redteam.txt")
    assert sidecar_path(Path("d/redteam.txt")) == Path("d/redteam.scenarios.json")
    assert sidecar_path(Path("d/redteam.txt.gz")) == Path("d/redteam.scenarios.json")
    assert sidecar_path(Path("d/labels")) == Path("d/labels.scenarios.json")


def test_cli_generate_with_attacks(tmp_path):
    out = tmp_path / "auth.txt.gz"
    args = ["--users", "200", "--computers", "400", "--days", "12", "--seed", "5", "--events-per-user-day", "30",
            "--out", str(out), "--format", "lanl2015", "--attacks", "all", "--intensity", "0.5", "--victims", "2",
            "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(generate_cli.generate, args)
    assert result.exit_code == 0, result.output
    labels = tmp_path / "auth.redteam.txt"
    assert f"labels in {labels}" in result.output and "against 10 users" in result.output
    side = json.loads((tmp_path / "auth.redteam.scenarios.json").read_text())
    assert side["format"] == "lanl2015" and side["scenarios"]["lateral_movement"]["params"]["intensity"] == 0.5
    assert side["run"]["days"] == 12 and len(side["victims"]) == 10
    assert side["victims"][next(iter(side["victims"]))]["days"][0] >= 7  # dataset day indexes; evaluate maps them with the epoch
    bad = CliRunner().invoke(generate_cli.generate, ["--out", str(tmp_path / "x.txt"), "--labels", str(tmp_path / "l.txt")])
    assert bad.exit_code != 0 and "--labels needs --attacks" in bad.output
