"""Labelled attack scenarios injected into the synthetic data.

The risk engine needs data with known answers. Each scenario here is a small
frozen dataclass describing one attack pattern the rules are meant to catch;
the :class:`Injector` picks victims, removes and adds events in the
generator's day arrays, and records every injected event as a label in the
LANL 2015 ``redteam.txt`` shape (``time,user@domain,src,dst``).

Design rules:

* **Own random streams.** Victims are planned from ``default_rng([seed, 3])``
  and each attack-day draws from ``default_rng([seed, 3, attack, day])``, so
  the benign events are identical with and without attacks (except the
  dormant victims' events, which the scenario deliberately removes).
* **After a warm-up.** Attacks happen on or after ``start_day`` (default 7),
  so the per-user baselines the rules compare with exist.
* **Victims are ordinary users with normal activity** (not service accounts,
  daily rate between the 25th and 90th percentile), distinct across scenarios.
* **"New" means new to the victim**: a target is never a computer the victim
  habitually uses or has touched in any benign event up to the end of the
  attack day, nor one an earlier attack of the same victim used.
* **Intensity** (1.0 default; 0.5 subtler; 2.0 louder) scales counts and
  how far from normal each scenario is; see each class's ``at``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import ClassVar, Sequence

import numpy as np

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lanl.day_events import (
    INTERACTIVE,
    KERBEROS,
    NETWORK,
    NTLM,
    DayEvents,
)
from authpulse_dagster.lanl.formats import LANL2014, LANL2015

SECONDS_PER_DAY = 86_400
WORK_HOURS = (9, 16)  # attack start hours for scenarios meant to look "ordinary" in time
VICTIM_RATE_QUANTILES = (0.25, 0.90)


@dataclass(frozen=True)
class PopulationView:
    """What the scenarios may know about the synthetic population."""

    is_service: np.ndarray  # bool per user
    rates: np.ndarray  # expected events per user-day
    usual: np.ndarray  # (users, k) computers each user habitually uses; column 0 is the workstation
    popularity: np.ndarray  # probability weight per computer (Zipf)
    habitual_users: np.ndarray  # per computer: users with it in their usual set, service accounts included

    @property
    def computers(self) -> int:
        return len(self.popularity)


@dataclass(frozen=True)
class Scenario(ABC):
    """Fields every scenario has: how many victims, the earliest attack day, the intensity it was built at."""

    name: ClassVar[str] = ""
    formats: ClassVar[tuple[str, ...]] = (LANL2014, LANL2015)
    victims: int = 3
    start_day: int = 7
    intensity: float = 1.0

    @classmethod
    def at(cls, intensity: float = 1.0, victims: int = 3, start_day: int = 7) -> "Scenario":
        """The scenario with its parameters scaled to ``intensity``."""
        return cls(victims, start_day, intensity)

    def params(self) -> dict[str, object]:
        return asdict(self)

    def min_days(self) -> int:
        """Days the run must have for this scenario to fit after its warm-up."""
        return self.start_day + 1

    def schedule(self, rng: np.random.Generator, days: int) -> tuple[tuple[int, ...], int | None]:
        """(days with attack events, first silent day or None) for one victim."""
        return (int(rng.integers(self.start_day, days)),), None

    @abstractmethod
    def events(self, rng: np.random.Generator, world: "World", user: int, day: int) -> DayEvents:
        """The attack events of ``user`` on ``day`` (one of the days :meth:`schedule` chose)."""


@dataclass(frozen=True)
class LateralMovement(Scenario):
    """Fan-out: a compromised account logs on to many computers it never used, from its workstation, in under an hour.

    Intensity scales the number of targets (25 at 1.0, at least 3) and
    shortens the window (45 minutes at 1.0, 45/intensity, at most 4 hours).
    """

    name: ClassVar[str] = "lateral_movement"
    targets: int = 25
    window_minutes: float = 45.0

    @classmethod
    def at(cls, intensity: float = 1.0, victims: int = 3, start_day: int = 7) -> "LateralMovement":
        return cls(victims, start_day, intensity, targets=max(3, round(25 * intensity)), window_minutes=min(240.0, 45.0 / intensity))

    def events(self, rng: np.random.Generator, world: "World", user: int, day: int) -> DayEvents:
        dst = world.new_computers(rng, user, self.targets)
        start = _start(rng, day, WORK_HOURS)
        times = _spread(rng, start, self.window_minutes * 60, len(dst))
        src = np.full(len(dst), world.pop.usual[user, 0])
        return _events(times, user, dst, src, auth=KERBEROS, logon=NETWORK)


@dataclass(frozen=True)
class RareSource(Scenario):
    """Stolen credentials used on and from a rare host that almost no user touches, at an ordinary hour.

    The attacker first logs on at the rare host (src = dst = the rare host;
    for 2014 data that is the line that shows it), then reaches ``targets``
    computers the victim never used, from the less popular half of the site,
    with the remaining events (``events`` in all: 6 at 1.0, at least 2;
    targets 3 at intensity >= 1, else 2) over ``window_minutes``.
    """

    name: ClassVar[str] = "rare_source"
    events_total: int = 6
    targets: int = 3
    window_minutes: float = 20.0

    @classmethod
    def at(cls, intensity: float = 1.0, victims: int = 3, start_day: int = 7) -> "RareSource":
        return cls(victims, start_day, intensity, events_total=max(2, round(6 * intensity)), targets=3 if intensity >= 1 else 2)

    def events(self, rng: np.random.Generator, world: "World", user: int, day: int) -> DayEvents:
        rare = world.rare_host(rng, user)
        dst = world.new_computers(rng, user, self.targets, pool=world.tail)
        n_remote = max(1, self.events_total - 1)
        remote_dst = dst[np.arange(n_remote) % len(dst)]
        times = _spread(rng, _start(rng, day, WORK_HOURS), self.window_minutes * 60, n_remote + 1)
        local = _events(times[:1], user, np.array([rare]), np.array([rare]), auth=KERBEROS, logon=INTERACTIVE)
        remote = _events(times[1:], user, remote_dst, np.full(n_remote, rare), auth=NTLM, logon=NETWORK)
        return DayEvents.concat([local, remote])


@dataclass(frozen=True)
class DormantWakeup(Scenario):
    """An account active at the start goes silent, then wakes in the small hours and touches a few computers.

    The victim's benign events are removed from ``silent_days`` before the
    wake day to the end of the run (the account is dormant; only the
    attacker uses it afterwards). On the wake day it logs on at its own
    workstation, then to new computers: ``computers`` in all (5 at 1.0, at
    least 2), starting between ``wake_hours`` (01:00-04:00 at intensity >= 1;
    lower intensity moves the window towards the morning: 03:00-06:00 at 0.5).
    """

    name: ClassVar[str] = "dormant_wakeup"
    computers: int = 5
    silent_days: int = 8
    wake_hours: tuple[int, int] = (1, 4)
    window_minutes: float = 60.0

    @classmethod
    def at(cls, intensity: float = 1.0, victims: int = 3, start_day: int = 7) -> "DormantWakeup":
        h0 = 1 + round(4 * max(0.0, 1.0 - intensity))
        return cls(victims, start_day, intensity, computers=max(2, round(5 * intensity)), wake_hours=(h0, h0 + 3))

    def min_days(self) -> int:
        return max(self.start_day, self.silent_days + 1) + 1

    def schedule(self, rng: np.random.Generator, days: int) -> tuple[tuple[int, ...], int | None]:
        wake = int(rng.integers(max(self.start_day, self.silent_days + 1), days))
        return (wake,), wake - self.silent_days

    def events(self, rng: np.random.Generator, world: "World", user: int, day: int) -> DayEvents:
        own = world.pop.usual[user, 0]
        dst = np.concatenate([[own], world.new_computers(rng, user, self.computers - 1)])
        times = _spread(rng, _start(rng, day, self.wake_hours), self.window_minutes * 60, len(dst))
        logon = np.where(dst == own, INTERACTIVE, NETWORK)
        return _events(times, user, dst, np.full(len(dst), own), auth=KERBEROS, logon=logon)


@dataclass(frozen=True)
class SlowSpread(Scenario):
    """Low and slow: a few new computers a day over consecutive days, spread over the evening, never bursty.

    Each of ``span_days`` days (5 at intensity >= 1, else 4) the account
    reaches ``per_day`` new computers (2-3 at 1.0; scaled by intensity, at
    least 1), 1-2 events each, one event per equal slot of the evening window
    ``evening_hours`` (18:00-23:00) so consecutive events are far apart.
    """

    name: ClassVar[str] = "slow_spread"
    span_days: int = 5
    per_day: tuple[int, int] = (2, 3)
    evening_hours: tuple[int, int] = (18, 23)

    @classmethod
    def at(cls, intensity: float = 1.0, victims: int = 3, start_day: int = 7) -> "SlowSpread":
        lo = max(1, round(2 * intensity))
        hi = max(lo, round(3 * intensity))
        return cls(victims, start_day, intensity, span_days=5 if intensity >= 1 else 4, per_day=(lo, hi))

    def min_days(self) -> int:
        return self.start_day + self.span_days

    def schedule(self, rng: np.random.Generator, days: int) -> tuple[tuple[int, ...], int | None]:
        first = int(rng.integers(self.start_day, days - self.span_days + 1))
        return tuple(range(first, first + self.span_days)), None

    def events(self, rng: np.random.Generator, world: "World", user: int, day: int) -> DayEvents:
        n_comp = int(rng.integers(self.per_day[0], self.per_day[1] + 1))
        dst = world.new_computers(rng, user, n_comp)
        dst = np.repeat(dst, rng.integers(1, 3, size=len(dst)))
        rng.shuffle(dst)
        h0, h1 = self.evening_hours
        slot = (h1 - h0) * 3600 / len(dst)
        # One event per slot, jittered within its middle half: never two in quick succession.
        offsets = (np.arange(len(dst)) + rng.uniform(0.25, 0.75, size=len(dst))) * slot
        times = day * SECONDS_PER_DAY + h0 * 3600 + offsets.astype(np.int64)
        src = np.full(len(dst), world.pop.usual[user, 0])
        return _events(times, user, dst, src, auth=KERBEROS, logon=NETWORK)


@dataclass(frozen=True)
class FailedLogonBurst(Scenario):
    """Password guessing (LANL 2015 only): a burst of failures against a few computers, then a success.

    ``failures`` (30 at 1.0, at least 5) failed NTLM network logons from the
    victim's workstation within ``window_seconds`` (300) against ``targets``
    new computers (2 at intensity >= 1, else 1), then one success to the
    first target 10-60 s later.
    """

    name: ClassVar[str] = "failed_logon_burst"
    formats: ClassVar[tuple[str, ...]] = (LANL2015,)
    failures: int = 30
    window_seconds: int = 300
    targets: int = 2

    @classmethod
    def at(cls, intensity: float = 1.0, victims: int = 3, start_day: int = 7) -> "FailedLogonBurst":
        return cls(victims, start_day, intensity, failures=max(5, round(30 * intensity)), targets=2 if intensity >= 1 else 1)

    def events(self, rng: np.random.Generator, world: "World", user: int, day: int) -> DayEvents:
        targets = world.new_computers(rng, user, self.targets)
        start = _start(rng, day, WORK_HOURS)
        times = _spread(rng, start, self.window_seconds, self.failures)
        dst = targets[np.arange(self.failures) % len(targets)]
        src = np.full(self.failures + 1, world.pop.usual[user, 0])
        success_at = times[-1] + int(rng.integers(10, 61))
        ev = _events(np.append(times, success_at), user, np.append(dst, targets[0]), src, auth=NTLM, logon=NETWORK)
        ev.success[:-1] = False
        return ev


SCENARIOS: dict[str, type[Scenario]] = {
    cls.name: cls for cls in (LateralMovement, RareSource, DormantWakeup, SlowSpread, FailedLogonBurst)
}


@dataclass(frozen=True)
class Difficulty:
    """The one knob for how hard the injected attacks are to see.

    ``intensity`` scales every scenario's counts and distance from normal
    (1.0 default, 0.5 subtler, 2.0 louder); ``victims`` is per scenario;
    ``start_day`` is the warm-up before the first attack.
    """

    intensity: float = 1.0
    victims: int = 3
    start_day: int = 7

    def __post_init__(self) -> None:
        if not (isinstance(self.intensity, (int, float)) and math.isfinite(self.intensity) and self.intensity > 0):
            raise ConfigError(f"intensity must be a positive number, got {self.intensity!r}")
        if isinstance(self.victims, bool) or not isinstance(self.victims, int) or self.victims < 1:
            raise ConfigError(f"victims per scenario must be an integer >= 1, got {self.victims!r}")
        if isinstance(self.start_day, bool) or not isinstance(self.start_day, int) or self.start_day < 1:
            raise ConfigError(f"start day (warm-up) must be an integer >= 1, got {self.start_day!r}")

    def scenarios(self, names: str | Sequence[str], fmt: str) -> tuple[Scenario, ...]:
        """Scenario instances for ``names`` ("all" or a list) valid in ``fmt``.

        "all" silently leaves out scenarios the format cannot express (failed
        logons need LANL 2015); naming one explicitly for the wrong format is an error.
        """
        wanted = resolve_names(names, fmt)
        return tuple(SCENARIOS[n].at(float(self.intensity), self.victims, self.start_day) for n in wanted)


def resolve_names(names: str | Sequence[str], fmt: str) -> list[str]:
    """Scenario names from "all", "a,b" or a list; unknown names or a wrong format raise ConfigError."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(names)
    if not names:
        raise ConfigError(f"no attack scenario given; use 'all' or some of: {', '.join(SCENARIOS)}")
    if "all" in names:
        return [n for n, cls in SCENARIOS.items() if fmt in cls.formats]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise ConfigError(f"unknown attack scenario {unknown[0]!r}; use 'all' or some of: {', '.join(SCENARIOS)}")
    wrong = [n for n in names if fmt not in SCENARIOS[n].formats]
    if wrong:
        raise ConfigError(f"attack scenario {wrong[0]!r} needs format {' or '.join(SCENARIOS[wrong[0]].formats)}, not {fmt}")
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class Attack:
    """One victim of one scenario, with the days it happens on."""

    index: int
    scenario: Scenario
    user: int
    days: tuple[int, ...]
    silent_from: int | None = None


class World:
    """Victims' history so far and the population, for choosing computers that are new to a victim."""

    def __init__(self, pop: PopulationView, victims: Sequence[int]):
        self.pop = pop
        self.touched: dict[int, set[int]] = {int(u): {int(c) for c in pop.usual[u]} for u in victims}
        self.attack_hosts: set[int] = set()  # rare hosts already given to a rare_source attack
        self.tail = pop.popularity <= np.median(pop.popularity)  # the less popular half of the site

    def observe(self, events: DayEvents) -> None:
        """Add the victims' computers (source and destination) from benign events."""
        mask = np.isin(events.user, np.fromiter(self.touched, dtype=np.int64))
        if not mask.any():
            return
        users = events.user[mask]
        for comps in (events.dst[mask], events.src[mask]):
            for u, c in set(zip(users.tolist(), comps.tolist())):
                self.touched[u].add(c)

    def new_computers(self, rng: np.random.Generator, user: int, n: int, pool: np.ndarray | None = None) -> np.ndarray:
        """``n`` distinct computers the victim never touched (from ``pool`` if given), marked as touched."""
        ok = np.ones(self.pop.computers, dtype=bool) if pool is None else pool.copy()
        ok[list(self.touched[user])] = False
        candidates = np.flatnonzero(ok)
        if len(candidates) < n:
            raise ConfigError(f"too few computers to inject attacks: need {n} new to user U{user + 1}; use more computers")
        picked = rng.choice(candidates, size=n, replace=False)
        self.touched[user].update(picked.tolist())
        return picked

    def rare_host(self, rng: np.random.Generator, user: int) -> int:
        """An unpopular computer nobody habitually uses, not used by another attack (looser fallbacks on tiny sites)."""
        base = self.tail.copy()
        base[list(self.touched[user])] = False
        base[list(self.attack_hosts)] = False
        for limit in (0, 1, None):
            ok = base if limit is None else base & (self.pop.habitual_users <= limit)
            candidates = np.flatnonzero(ok)
            if len(candidates):
                host = int(rng.choice(candidates))
                self.attack_hosts.add(host)
                self.touched[user].add(host)
                return host
        raise ConfigError("too few computers to pick a rare host for the rare_source scenario; use more computers")


@dataclass
class InjectedLabel:
    """The injected events of one attack on one day."""

    attack: Attack
    day: int
    events: DayEvents


@dataclass
class Injector:
    """Plans the attacks once, then edits each day's events in generation order."""

    scenarios: Sequence[Scenario]
    pop: PopulationView
    days: int
    seed: int
    attacks: list[Attack] = field(init=False)
    injected: list[InjectedLabel] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.attacks = plan_attacks(self.scenarios, self.pop, self.days, self.seed)
        self.world = World(self.pop, [a.user for a in self.attacks])
        self._silent = {a.user: a.silent_from for a in self.attacks if a.silent_from is not None}

    def inject(self, day: int, events: DayEvents) -> DayEvents:
        """The day's events with dormant victims' benign events removed and attack events added, sorted by time.

        A day without attacks keeps its events in their original order.
        """
        silent = [u for u, first in self._silent.items() if day >= first]
        if silent:
            events = events.take(~np.isin(events.user, np.array(silent, dtype=np.int64)))
        self.world.observe(events)
        added = []
        for attack in self.attacks:
            if day in attack.days:
                rng = np.random.default_rng([self.seed, 3, attack.index, day])
                ev = attack.scenario.events(rng, self.world, attack.user, day)
                self.injected.append(InjectedLabel(attack, day, ev))
                added.append(ev)
        if not added:
            return events
        return DayEvents.concat([events, *added]).sorted_by_time()


def plan_attacks(scenarios: Sequence[Scenario], pop: PopulationView, days: int, seed: int) -> list[Attack]:
    """Choose distinct victims and attack days for every scenario, deterministically from ``seed``."""
    for s in scenarios:
        if days < s.min_days():
            raise ConfigError(
                f"attack scenario {s.name} needs at least {s.min_days()} days (warm-up of {s.start_day} days first), got {days}"
            )
    rng = np.random.default_rng([seed, 3])
    ordinary = np.flatnonzero(~pop.is_service)
    lo, hi = np.quantile(pop.rates[ordinary], VICTIM_RATE_QUANTILES) if len(ordinary) else (0.0, 0.0)
    eligible = ordinary[(pop.rates[ordinary] >= lo) & (pop.rates[ordinary] <= hi)]
    needed = sum(s.victims for s in scenarios)
    if needed > len(eligible):
        raise ConfigError(
            f"{needed} attack victims requested but only {len(eligible)} users have ordinary activity; "
            "use more users or fewer victims per scenario"
        )
    victims = rng.permutation(eligible)[:needed]
    attacks: list[Attack] = []
    for s in scenarios:
        for _ in range(s.victims):
            user = int(victims[len(attacks)])
            attack_days, silent_from = s.schedule(rng, days)
            attacks.append(Attack(len(attacks), s, user, attack_days, silent_from))
    return attacks


def _start(rng: np.random.Generator, day: int, hours: tuple[int, int]) -> int:
    """A random second of ``day`` whose hour is in [hours[0], hours[1])."""
    return day * SECONDS_PER_DAY + int(rng.integers(hours[0] * 3600, hours[1] * 3600))


def _spread(rng: np.random.Generator, start: int, window_seconds: float, n: int) -> np.ndarray:
    """``n`` sorted times in [start, start + window), first one at ``start``, kept within the day."""
    day_end = (start // SECONDS_PER_DAY + 1) * SECONDS_PER_DAY - 1
    offsets = np.sort(rng.uniform(0, window_seconds, size=n)).astype(np.int64)
    offsets[0] = 0
    return np.minimum(start + offsets, day_end)


def _events(times: np.ndarray, user: int, dst: np.ndarray, src: np.ndarray, auth: int, logon: int | np.ndarray) -> DayEvents:
    n = len(times)
    return DayEvents(
        time=np.asarray(times, dtype=np.int64),
        user=np.full(n, user, dtype=np.int64),
        dst=np.asarray(dst, dtype=np.int64),
        src=np.asarray(src, dtype=np.int64),
        auth=np.full(n, auth, dtype=np.uint8),
        logon=np.broadcast_to(np.asarray(logon, dtype=np.uint8), (n,)).copy(),
        success=np.ones(n, dtype=bool),
    )
