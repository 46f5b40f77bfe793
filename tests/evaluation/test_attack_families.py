"""The held-out attack families and the red-team trace overlay write what they claim (generator only, no Spark)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lanl.attacks_heldout import HELD_OUT, held_out
from authpulse_dagster.lanl.attacks_overlay import TraceOverlay, read_trace
from authpulse_dagster.lanl.generator import generate
from authpulse_dagster.lanl.labels import read_labels, read_sidecar
from authpulse_dagster.lanl.scenarios import SCENARIOS


def _generate(tmp_path, attacks, name="a", fmt="lanl2015"):
    out = tmp_path / name / "auth.txt"
    stats = generate(out, users=300, computers=600, days=14, seed=101, events_per_user_day=10.0, progress=False, fmt=fmt,
                     attacks=attacks, labels=out.parent / "redteam.txt")
    return stats, json.loads(stats.sidecar_path.read_text())["victims"]


def test_held_out_families_are_apart_from_the_tuning_ones_at_every_intensity(tmp_path):
    assert not set(HELD_OUT) & set(SCENARIOS)
    stats, victims = _generate(tmp_path, held_out("lanl2015"))
    groups = Counter((v["scenario"], v["params"]["intensity"]) for v in victims.values())
    assert set(groups) == {(f, i) for f in HELD_OUT for i in (0.5, 1.0, 2.0)}
    info = read_sidecar(stats.sidecar_path)  # per-victim intensity survives the sidecar round trip
    assert {v.params["intensity"] for v in info.values()} == {0.5, 1.0, 2.0}
    # A campaign's victims share one computer: the foothold as source, the target as destination.
    for (family, role) in (("foothold_many_accounts", "src_computers"), ("shared_target", "dst_computers")):
        for intensity in (0.5, 1.0, 2.0):
            members = [v for v in victims.values() if v["scenario"] == family and v["params"]["intensity"] == intensity]
            shared = set.intersection(*(set(v[role]) for v in members))
            assert len(members) >= 3 and len(shared) == 1, (family, intensity)
    # Louder is bigger: more events per victim at 2.0 than at 0.5, for every family.
    for family in HELD_OUT:
        by = {i: sum(v["events"] for v in victims.values() if v["scenario"] == family and v["params"]["intensity"] == i)
              for i in (0.5, 2.0)}
        assert by[2.0] > by[0.5], family
    hops = [v for v in victims.values() if v["scenario"] == "hop_chain" and v["params"]["intensity"] == 2.0]
    assert all(len(v["days"]) == 2 and len(v["dst_computers"]) == 8 for v in hops)


def test_lanl2014_leaves_out_the_foothold_family():
    assert "foothold_many_accounts" not in {s.name for s in held_out("lanl2014")}


def test_a_trace_is_mapped_onto_the_population_keeping_shared_computers_and_days(tmp_path):
    trace = tmp_path / "redteam.txt"
    day = 86400
    trace.write_text(
        f"{3 * day + 100},U12@DOM1,C17,C17\n{3 * day + 160},U12@DOM1,C17,C99\n{3 * day + 200},U13@DOM1,C17,C98\n"
        f"{4 * day + 50},U14@DOM1,C17,C97\n{30 * day},U15@DOM1,C5,C6\n"
    )
    overlay = TraceOverlay(read_trace(trace), start_day=7, days=14)
    assert (overlay.dropped, overlay.users) == (1, ["U12", "U13", "U14"])  # U15's day falls after the 14 days
    stats, victims = _generate(tmp_path, overlay.scenarios())
    labels = read_labels(stats.labels_path)
    assert len(labels) == 4 and stats.attacked_users == 3
    assert [lab.time // day for lab in labels] == [7, 7, 7, 8]  # first trace day on day 7, gaps kept
    assert [lab.time % day for lab in labels] == [100, 160, 200, 50]  # times of day kept
    # C17 is one computer for every trace user (the foothold); each trace user is a distinct generated user.
    assert len({lab.src_computer for lab in labels}) == 1
    assert len({lab.user for lab in labels}) == 3 and all(v["scenario"] == "overlay" for v in victims.values())
    assert set(overlay.computers) == {"C17", "C99", "C98", "C97"} and len(set(overlay.computers.values())) == 4
    # The events are in the generated data itself, not only in the labels.
    lines = (tmp_path / "a" / "auth.txt").read_text().splitlines()
    for lab in labels:
        prefix = f"{lab.time},{lab.user}@DOM1,{lab.user}@DOM1,{lab.src_computer},{lab.dst_computer},"
        assert any(line.startswith(prefix) for line in lines), prefix


def test_an_empty_trace_is_refused(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ConfigError, match="no lines"):
        TraceOverlay(read_trace(empty), start_day=7, days=14)
