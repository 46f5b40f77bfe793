"""Overlay a red-team trace (LANL ``redteam.txt`` lines) on a generated population.

What: every line ``time,user@domain,src,dst`` of the trace becomes an
injected, labelled event of the generated data. Trace users are mapped to
distinct ordinary generated users (the generator's usual victims, drawn from
the run's seed); trace computers to distinct generated computers, once for
the whole trace, so a computer the trace uses for many users stays one
computer: sources to unpopular computers nobody habitually uses (a red
team's foothold), destinations to computers drawn by popularity (what it
reaches is what the site uses). The trace's days keep their order and their
gaps, and its times of day; the first trace day lands on ``start_day``, and
days after the generated range are dropped (counted in :attr:`TraceOverlay.dropped`).

Why: the outside evaluation overlays LANL's real red-team trace on
generated background; ``bench/evaluate_risk.py --overlay FILE`` does the
same so the project can run that protocol on any trace it has (the real
``redteam.txt`` is not redistributable and is not in the repository).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lanl.day_events import KERBEROS, NETWORK, DayEvents
from authpulse_dagster.lanl.scenarios import SECONDS_PER_DAY, Scenario, World, _events

OVERLAY = "overlay"


@dataclass(frozen=True)
class TraceLine:
    time: int
    user: str
    src: str
    dst: str


def read_trace(path: Path) -> list[TraceLine]:
    """The trace's lines (via the label reader: plain, gzip or bzip2, same format checks)."""
    from authpulse_dagster.lanl.labels import read_labels

    return [TraceLine(x.time, x.user, x.src_computer, x.dst_computer) for x in read_labels(Path(path))]


@dataclass
class TraceOverlay:
    """The shared state of one overlay: the trace, the computer mapping, what was dropped."""

    lines: list[TraceLine]
    start_day: int
    days: int
    computers: dict[str, int] = field(default_factory=dict)
    dropped: int = 0

    def __post_init__(self) -> None:
        if not self.lines:
            raise ConfigError("the overlay trace has no lines")
        first = min(t.time for t in self.lines) // SECONDS_PER_DAY
        self.shift = self.start_day - first
        kept = [t for t in self.lines if t.time // SECONDS_PER_DAY + self.shift < self.days]
        self.dropped = len(self.lines) - len(kept)
        self.kept = kept
        self.users = list(dict.fromkeys(t.user for t in sorted(kept, key=lambda t: t.time)))

    def scenarios(self) -> list[Scenario]:
        """One single-victim scenario per trace user, in first-appearance order."""
        return [ReplayedUser(1, self.start_day, 1.0, trace=self, trace_user=u) for u in self.users]

    def computer(self, world: World, rng: np.random.Generator, name: str, as_source: bool) -> int:
        if name not in self.computers:
            taken = set(self.computers.values())
            if as_source:
                ok = world.tail & (world.pop.habitual_users == 0)
            else:
                ok = np.ones(world.pop.computers, dtype=bool)
            ok[list(taken)] = False
            candidates = np.flatnonzero(ok)
            if not len(candidates):
                candidates = np.flatnonzero(~np.isin(np.arange(world.pop.computers), list(taken)))
            if not len(candidates):
                raise ConfigError("the overlay trace names more computers than the generated site has")
            weights = None if as_source else world.pop.popularity[candidates] / world.pop.popularity[candidates].sum()
            self.computers[name] = int(rng.choice(candidates, p=weights))
        return self.computers[name]


@dataclass(frozen=True, eq=False)
class ReplayedUser(Scenario):
    """The trace events of one trace user, as one generated victim's attack."""

    name: ClassVar[str] = OVERLAY
    trace: TraceOverlay | None = None
    trace_user: str = ""

    def params(self) -> dict[str, object]:
        return {"trace_user": self.trace_user, "intensity": self.intensity, "start_day": self.start_day}

    def _lines(self) -> list[TraceLine]:
        return [t for t in self.trace.kept if t.user == self.trace_user]

    def schedule(self, rng: np.random.Generator, days: int) -> tuple[tuple[int, ...], int | None]:
        return tuple(sorted({t.time // SECONDS_PER_DAY + self.trace.shift for t in self._lines()})), None

    def events(self, rng: np.random.Generator, world: World, user: int, day: int) -> DayEvents:
        mine = [t for t in self._lines() if t.time // SECONDS_PER_DAY + self.trace.shift == day]
        src = np.array([self.trace.computer(world, rng, t.src, True) for t in mine], dtype=np.int64)
        dst = np.array([self.trace.computer(world, rng, t.dst, t.dst == t.src) for t in mine], dtype=np.int64)
        times = np.array([day * SECONDS_PER_DAY + t.time % SECONDS_PER_DAY for t in mine], dtype=np.int64)
        world.touched.setdefault(user, set()).update(src.tolist() + dst.tolist())
        return _events(times, user, dst, src, auth=KERBEROS, logon=NETWORK)
