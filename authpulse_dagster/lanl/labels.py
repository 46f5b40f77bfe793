"""Red-team labels: LANL 2015 ``redteam.txt`` lines plus a scenario sidecar.

The generator writes what it injected here and ``authpulse evaluate`` reads it
back, so the label format is defined once. Labels are ``time,user@domain,
src_computer,dst_computer`` lines sorted by time, exactly the shape of the real
LANL 2015 ``redteam.txt`` (so the evaluator also accepts the real file). For
LANL 2014 data, whose lines have no source computer, src and dst are both the
event's computer.

``redteam.txt`` has no scenario column, so a JSON sidecar next to it
(:func:`sidecar_path`) maps every victim to its scenario, days and parameters.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from authpulse_dagster.errors import InputError
from authpulse_dagster.lanl.day_events import DOMAIN
from authpulse_dagster.lanl.formats import LANL2014
from authpulse_dagster.lanl.readers import open_binary
from authpulse_dagster.lanl.scenarios import InjectedLabel

LABEL_LINE = re.compile(r"^([0-9]+),([^@,]+)@([^@,]+),([^,]+),([^,]+)$")
SIDECAR_VERSION = 1


@dataclass(frozen=True)
class Label:
    """One red-team event."""

    time: int
    user: str  # without @domain, as auth_events.user_id holds it
    domain: str
    src_computer: str
    dst_computer: str


@dataclass(frozen=True)
class VictimInfo:
    """What the sidecar says about one attacked user."""

    user: str
    scenario: str
    days: tuple[int, ...]
    params: dict[str, Any]


def default_labels_path(out: Path) -> Path:
    """``auth.txt.gz`` -> ``auth.redteam.txt`` in the same folder."""
    name = out.name
    for suffix in (".gz", ".bz2", ".txt", ".csv"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return out.with_name(f"{name}.redteam.txt")


def sidecar_path(labels: Path) -> Path:
    """``redteam.txt`` -> ``redteam.scenarios.json`` (the suffix is replaced, or added if there is none)."""
    labels = Path(labels)
    name = labels.name[:-3] if labels.name.endswith(".gz") else labels.name
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return labels.with_name(f"{stem}.scenarios.json")


def write_labels(path: Path, injected: Sequence[InjectedLabel], fmt: str, run: dict[str, Any]) -> tuple[int, Path]:
    """Write the label lines and the sidecar; returns (label lines, sidecar path).

    ``run`` (generator arguments) is copied into the sidecar so a label file
    says which data it belongs to.
    """
    parts = [(x.events.time, x.events.user, x.events.dst if fmt == LANL2014 else x.events.src, x.events.dst) for x in injected]
    if parts:
        t, u, s, d = (np.concatenate(col) for col in zip(*parts))
    else:
        t = u = s = d = np.zeros(0, dtype=np.int64)
    order = np.argsort(t, kind="stable")
    text = "".join(f"{t[i]},U{u[i] + 1}@{DOMAIN},C{s[i] + 1},C{d[i] + 1}\n" for i in order.tolist())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = text.encode()
    path.write_bytes(gzip.compress(payload, mtime=0) if path.name.endswith(".gz") else payload)

    scenarios: dict[str, Any] = {}
    victims: dict[str, Any] = {}
    by_attack: dict[int, list[InjectedLabel]] = {}
    for x in injected:
        by_attack.setdefault(x.attack.index, []).append(x)
    attacks = {x.attack.index: x.attack for x in injected}
    for index in sorted(attacks):
        attack = attacks[index]
        name = f"U{attack.user + 1}"
        ev = [x.events for x in by_attack[index]]
        times = np.concatenate([e.time for e in ev])
        entry = scenarios.setdefault(attack.scenario.name, {"params": attack.scenario.params(), "victims": []})
        entry["victims"].append(name)
        victims[name] = {
            "scenario": attack.scenario.name,
            # Per victim too: one run may hold a family at several intensities (bench/evaluate_risk.py).
            "params": attack.scenario.params(),
            "days": list(attack.days),
            "silent_from_day": attack.silent_from,
            "events": int(len(times)),
            "failed_events": int(sum((~e.success).sum() for e in ev)),
            "first_time": int(times.min()),
            "last_time": int(times.max()),
            "dst_computers": sorted({f"C{c + 1}" for e in ev for c in e.dst.tolist()}),
            "src_computers": sorted({f"C{c + 1}" for e in ev for c in (e.dst if fmt == LANL2014 else e.src).tolist()}),
        }
    sidecar = {
        "version": SIDECAR_VERSION,
        "labels": path.name,
        "format": fmt,
        "domain": DOMAIN,
        "note": "redteam.txt lines: time,user@domain,src_computer,dst_computer. "
        "LANL 2014 lines have no source computer, so there src_computer = dst_computer = the event's computer.",
        "run": run,
        "scenarios": scenarios,
        "victims": victims,
    }
    side = sidecar_path(path)
    side.write_text(json.dumps(sidecar, indent=2, sort_keys=False) + "\n")
    return len(order), side


def read_labels(path: Path) -> list[Label]:
    """Parse a ``redteam.txt`` (plain, gzip or bzip2); blank lines are skipped, anything else malformed is an error."""
    labels: list[Label] = []
    with open_binary(path) as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            m = LABEL_LINE.match(line)
            if not m:
                raise InputError(f"{path}:{number}: not a red-team line 'time,user@domain,src,dst': {line[:80]!r}")
            labels.append(Label(int(m[1]), m[2], m[3], m[4], m[5]))
    return labels


def read_sidecar(path: Path) -> dict[str, VictimInfo]:
    """Victims by user id from a scenario sidecar; {} if the file does not exist (e.g. the real LANL labels)."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        return {
            user: VictimInfo(
                user, v["scenario"], tuple(v.get("days", ())), dict(v.get("params") or data["scenarios"][v["scenario"]]["params"])
            )
            for user, v in data["victims"].items()
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a scenario sidecar written by 'authpulse generate': {exc}") from None
