"""Attack families written to test generalization, never to tune the rules on.

The five families of :mod:`authpulse_dagster.lanl.scenarios` are the ones the
risk engine was tuned on. These are other shapes of the same intrusions, the
shapes outside evaluations found the engine missing (issue 12): an intruder
working from one foothold with many accounts, hopping host to host, several
accounts converging on one target, an account that wakes at an ordinary hour.
``bench/evaluate_risk.py`` reports them apart ("held-out"); nothing in
``risk/config.py`` may be adjusted to them, or they stop measuring anything.

Each family is a :class:`Scenario` (same planning, same label files). Where
several victims share a host (a campaign), the host is drawn once per family
instance and intensity from the run's own random stream, and all its victims
are attacked within ``campaign_days`` days of ``start_day`` (real red teams
spend many accounts in a few busy days: ``DOMAIN.md`` §8).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lanl.day_events import INTERACTIVE, KERBEROS, NETWORK, NTLM, DayEvents
from authpulse_dagster.lanl.formats import LANL2015
from authpulse_dagster.lanl.scenarios import WORK_HOURS, Scenario, World, _events, _spread, _start

def _state(world: World) -> dict:
    """What these families remember across victims and days, kept on the run's world (one per generation)."""
    if not hasattr(world, "held_out_state"):
        world.held_out_state = {"hosts": {}, "last_hop": {}, "days_seen": {}}
    return world.held_out_state


def campaign_host(world: World, scenario: Scenario, rng: np.random.Generator) -> int:
    """One unpopular computer nobody habitually uses, shared by every victim of ``scenario`` in this world."""
    shared = _state(world)["hosts"]
    key = (scenario.name, scenario.intensity)
    if key not in shared:
        base = world.tail.copy()
        base[list(world.attack_hosts)] = False
        for limit in (0, 1, None):  # looser on small sites, as rare_host does
            candidates = np.flatnonzero(base if limit is None else base & (world.pop.habitual_users <= limit))
            if len(candidates):
                break
        else:
            raise ConfigError("too few computers to pick a campaign host; use more computers")
        host = int(rng.choice(candidates))
        world.attack_hosts.add(host)
        shared[key] = host
    return shared[key]


@dataclass(frozen=True)
class _Campaign(Scenario):
    campaign_days: int = 4

    def min_days(self) -> int:
        return self.start_day + self.campaign_days

    def schedule(self, rng: np.random.Generator, days: int) -> tuple[tuple[int, ...], int | None]:
        return (int(rng.integers(self.start_day, min(days, self.start_day + self.campaign_days))),), None


@dataclass(frozen=True)
class ForeignFoothold(_Campaign):
    """One foothold computer, many accounts: each victim is used from it against a few computers (LANL 2015).

    The attacker sits on an unpopular computer none of the victims uses and
    authenticates from it as each victim (NTLM network logons) to
    ``targets`` computers: half of them (rounded up) the victim's own usual
    servers (the stolen account's normal reach), the rest new to it.
    Intensity scales targets (3 at 1.0, at least 1) and the events per target
    (2 at 1.0, at least 1). Victims: 6 per instance by default.
    """

    name: ClassVar[str] = "foothold_many_accounts"
    formats: ClassVar[tuple[str, ...]] = (LANL2015,)
    targets: int = 3
    per_target: int = 2

    @classmethod
    def at(cls, intensity: float = 1.0, victims: int = 6, start_day: int = 7) -> "ForeignFoothold":
        return cls(victims, start_day, intensity, targets=max(1, round(3 * intensity)), per_target=max(1, round(2 * intensity)))

    def events(self, rng: np.random.Generator, world: World, user: int, day: int) -> DayEvents:
        foothold = campaign_host(world, self, rng)
        usual = world.pop.usual[user]
        servers = np.unique(usual[1:][usual[1:] != usual[0]])
        n_usual = min(len(servers), (self.targets + 1) // 2)
        own = rng.choice(servers, size=n_usual, replace=False) if n_usual else np.zeros(0, dtype=np.int64)
        new = world.new_computers(rng, user, self.targets - n_usual)
        dst = np.repeat(np.concatenate([own, new]).astype(np.int64), self.per_target)
        times = _spread(rng, _start(rng, day, WORK_HOURS), 3600, len(dst))
        world.touched[user].add(foothold)
        return _events(times, user, dst, np.full(len(dst), foothold), auth=NTLM, logon=NETWORK)


@dataclass(frozen=True)
class HopChain(Scenario):
    """Host to host: each hop logs on from the last computer reached to one the victim never used.

    ``hops`` hops (4 at 1.0, at least 2) over ``span_days`` days (2), 2-3
    events per hop at working hours; in LANL 2015 the source of a hop is the
    previous hop (the first hop starts from the victim's workstation), in
    LANL 2014 only the destinations show.
    """

    name: ClassVar[str] = "hop_chain"
    hops: int = 4
    span_days: int = 2

    @classmethod
    def at(cls, intensity: float = 1.0, victims: int = 2, start_day: int = 7) -> "HopChain":
        return cls(victims, start_day, intensity, hops=max(2, round(4 * intensity)))

    def min_days(self) -> int:
        return self.start_day + self.span_days

    def schedule(self, rng: np.random.Generator, days: int) -> tuple[tuple[int, ...], int | None]:
        first = int(rng.integers(self.start_day, days - self.span_days + 1))
        return tuple(range(first, first + self.span_days)), None

    def events(self, rng: np.random.Generator, world: World, user: int, day: int) -> DayEvents:
        # Hops are split over the span's days; the chain continues from where the previous day stopped.
        state = _state(world)
        seen = state["days_seen"].setdefault(user, [])
        if day not in seen:
            seen.append(day)
        mine = np.array_split(np.arange(self.hops), self.span_days)[min(seen.index(day), self.span_days - 1)]
        src = state["last_hop"].get(user, int(world.pop.usual[user, 0]))
        parts = [DayEvents.empty()]
        t = _start(rng, day, WORK_HOURS)
        for _ in mine:
            dst = int(world.new_computers(rng, user, 1)[0])
            n = int(rng.integers(2, 4))
            times = _spread(rng, t, 600, n)
            parts.append(_events(times, user, np.full(n, dst), np.full(n, src), auth=KERBEROS, logon=NETWORK))
            src, t = dst, int(times[-1]) + int(rng.integers(600, 3600))
        state["last_hop"][user] = src
        return DayEvents.concat(parts)


@dataclass(frozen=True)
class SharedTarget(_Campaign):
    """Several accounts converge on one target (a database, a file server) that none of them uses.

    Each victim, from its own workstation at working hours, logs on to the
    shared target (``events`` times: 3 at 1.0, at least 1) and, at intensity
    >= 1, to one more computer new to it. Victims: 4 per instance by default.
    """

    name: ClassVar[str] = "shared_target"
    touches: int = 3
    extra_new: int = 1

    @classmethod
    def at(cls, intensity: float = 1.0, victims: int = 4, start_day: int = 7) -> "SharedTarget":
        return cls(victims, start_day, intensity, touches=max(1, round(3 * intensity)), extra_new=1 if intensity >= 1 else 0)

    def events(self, rng: np.random.Generator, world: World, user: int, day: int) -> DayEvents:
        target = campaign_host(world, self, rng)
        world.touched[user].add(target)
        dst = np.concatenate([np.full(self.touches, target), world.new_computers(rng, user, self.extra_new)]).astype(np.int64)
        times = _spread(rng, _start(rng, day, WORK_HOURS), 2 * 3600, len(dst))
        return _events(times, user, dst, np.full(len(dst), world.pop.usual[user, 0]), auth=KERBEROS, logon=NETWORK)


@dataclass(frozen=True)
class QuietWakeup(Scenario):
    """An account goes quiet for ``silent_days`` (5) and wakes at an ordinary working hour.

    On the wake day it logs on at its own workstation, then to one of its
    usual servers and to ``new`` computers it never used (2 at 1.0, at
    least 1 below); nothing happens at night. Benign events are removed from
    the silence onwards, as in dormant_wakeup.
    """

    name: ClassVar[str] = "quiet_wakeup"
    silent_days: int = 5
    new: int = 2

    @classmethod
    def at(cls, intensity: float = 1.0, victims: int = 2, start_day: int = 7) -> "QuietWakeup":
        return cls(victims, start_day, intensity, new=max(1, round(2 * intensity)))

    def min_days(self) -> int:
        return max(self.start_day, self.silent_days + 1) + 1

    def schedule(self, rng: np.random.Generator, days: int) -> tuple[tuple[int, ...], int | None]:
        wake = int(rng.integers(max(self.start_day, self.silent_days + 1), days))
        return (wake,), wake - self.silent_days

    def events(self, rng: np.random.Generator, world: World, user: int, day: int) -> DayEvents:
        usual = world.pop.usual[user]
        own = int(usual[0])
        server = int(usual[1]) if int(usual[1]) != own else own
        dst = np.concatenate([[own, server], world.new_computers(rng, user, self.new)]).astype(np.int64)
        times = _spread(rng, _start(rng, day, WORK_HOURS), 2 * 3600, len(dst))
        logon = np.where(dst == own, INTERACTIVE, NETWORK)
        return _events(times, user, dst, np.full(len(dst), own), auth=KERBEROS, logon=logon)


HELD_OUT: dict[str, type[Scenario]] = {
    cls.name: cls for cls in (ForeignFoothold, HopChain, SharedTarget, QuietWakeup)
}


def held_out(fmt: str, intensities: tuple[float, ...] = (0.5, 1.0, 2.0), start_day: int = 7) -> list[Scenario]:
    """Every held-out family valid in ``fmt`` at every intensity, each with its default victims."""
    return [cls.at(i, start_day=start_day) for cls in HELD_OUT.values() if fmt in cls.formats for i in intensities]
