"""Synthetic LANL authentication logs, 2014 (``time,U<n>,C<n>``) or 2015 format.

The real LANL files are large and not redistributable with the project, so
tests, demos and benchmarks use this generator. It aims for the structure the
risk models care about, not for statistical fidelity:

* skewed activity: lognormal per-user daily rates, Zipf-like computer popularity;
* affinity: an ordinary user mostly uses 1-6 computers (a personal workstation
  plus a few popular shared servers) and rarely (1-3 %) touches any other;
* about 1 % of users are service accounts: active around the clock, spread over
  tens to hundreds of hosts;
* rhythm: working-hours peak for people, quiet weekends (days 5 and 6 of each
  week; day 0 is a Monday, matching the default dataset epoch in settings).

Everything is drawn from ``np.random.default_rng(seed)`` in a fixed order and
the gzip header carries no timestamp, so the same arguments give the same bytes.
Work is vectorised per day (numpy sampling, Arrow string formatting), which
keeps ~10 M events to seconds.

LANL 2015 output (``fmt="lanl2015"``) is the same (time, user, computer)
events plus details drawn from a second stream (``[seed, 2]``), so the 2014
bytes never change: an ordinary user authenticates from their workstation to
the computer of the event (src == dst, Interactive, for their own
workstation), a service account from one of its first few hosts, and about
1 % of lines are benign failures (a mistyped password retried within seconds,
occasionally given up). Labelled attacks (:mod:`authpulse_dagster.lanl.scenarios`)
are injected into the day's arrays before formatting, from their own stream.
"""

from __future__ import annotations

import gzip
import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lanl.day_events import (
    AUTH_TYPES,
    BATCH,
    DOMAIN,
    INTERACTIVE,
    KERBEROS,
    LOGON_TYPES,
    NEGOTIATE,
    NETWORK,
    NTLM,
    ORIENTATION,
    SERVICE,
    UNLOCK,
    DayEvents,
)
from authpulse_dagster.lanl.formats import LANL2014, LANL2015, validate_format
from authpulse_dagster.lanl.labels import default_labels_path, write_labels
from authpulse_dagster.lanl.scenarios import Injector, PopulationView, Scenario

SECONDS_PER_DAY = 86_400
SERVICE_FRACTION = 0.01
MAX_USUAL_COMPUTERS = 6
WEEKEND_FACTOR = 0.2  # ordinary users' weekend activity relative to a weekday
# Weekday factor chosen so an ordinary user's week averages events_per_user_day.
WEEKDAY_FACTOR = 7.0 / (5.0 + 2.0 * WEEKEND_FACTOR)
SERVICE_RATE = 10.0  # a service account's rate relative to the mean user, before normalising
RATE_SIGMA = 1.1  # lognormal spread of per-user daily rates
ZIPF_EXPONENT = 1.1
PROGRESS_MIN_EVENTS = 1_000_000
FORMAT_CHUNK = 1 << 21  # events rendered per Arrow call (keeps int32 offsets safe)
# LANL 2015 details.
SERVICE_HOME_HOSTS = 3  # a service account authenticates from one of its first few hosts
RETRY_RATE = 0.008  # share of events preceded by failed attempts (a mistyped password)
GIVE_UP_SHARE = 0.15  # ...of which the final attempt fails too
NTLM_SHARE = 0.15  # remote logons of people that fall back to NTLM
UNLOCK_SHARE = 0.2  # workstation logons that are screen unlocks

# Relative activity per hour of day for people (working hours peak, lunch dip).
_WEEKDAY_HOURS = np.array(
    [0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.5, 1.5, 4.0, 6.0, 6.0, 5.5,
     4.5, 5.5, 6.0, 5.5, 4.5, 3.0, 1.5, 1.0, 0.8, 0.6, 0.4, 0.25]
)  # fmt: skip
# Weekends: the few people who work do so in a flatter late-morning/afternoon.
_WEEKEND_HOURS = np.array(
    [0.3, 0.2, 0.15, 0.15, 0.15, 0.2, 0.3, 0.6, 1.0, 1.5, 2.0, 2.0,
     2.0, 2.0, 2.0, 1.8, 1.5, 1.2, 1.0, 0.9, 0.8, 0.6, 0.5, 0.4]
)  # fmt: skip


@dataclass(frozen=True)
class GenerateStats:
    """What :func:`generate` wrote."""

    events: int
    users: int
    computers: int
    days: int
    path: Path
    seconds: float
    corrupt_lines: int = 0
    format: str = LANL2014
    attack_events: int = 0  # injected malicious events (all labelled)
    attacked_users: int = 0
    labels_path: Path | None = None
    sidecar_path: Path | None = None


@dataclass
class _Population:
    """Who uses what, drawn once per run and reused for every day."""

    rates: np.ndarray  # expected events per user on an average day
    is_service: np.ndarray  # bool per user
    usual: np.ndarray  # (users, 6) usual computer indices, padded
    usual_cum: np.ndarray  # (users, 6) cumulative affinity weights, padding = 1.0
    explore: np.ndarray  # per-user probability of an unusual computer
    popularity_cum: np.ndarray  # cumulative Zipf popularity over computers
    svc_hosts: np.ndarray  # concatenated host sets of service accounts
    svc_start: np.ndarray  # per user: offset into svc_hosts
    svc_size: np.ndarray  # per user: host-set size (0 for ordinary users)


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _population(rng: np.random.Generator, users: int, computers: int, mean_rate: float) -> _Population:
    # Computer popularity: Zipf over a random ranking of the computers.
    by_popularity = rng.permutation(computers)  # most popular first
    weights = np.empty(computers)
    weights[by_popularity] = 1.0 / np.arange(1, computers + 1) ** ZIPF_EXPONENT
    popularity_cum = np.cumsum(weights / weights.sum())
    popularity_cum[-1] = 1.0

    n_service = max(1, round(users * SERVICE_FRACTION))
    is_service = np.zeros(users, dtype=bool)
    is_service[rng.choice(users, size=n_service, replace=False)] = True

    rates = rng.lognormal(0.0, RATE_SIGMA, size=users)
    rates[is_service] = SERVICE_RATE * math.exp(RATE_SIGMA**2 / 2)  # 10x the lognormal mean
    rates *= mean_rate / rates.mean()

    # Ordinary users: workstation from the unpopular end (one each while they
    # last), then 0-5 shared servers drawn by popularity, with affinity weights.
    ordinary = np.flatnonzero(~is_service)
    usual = np.zeros((users, MAX_USUAL_COMPUTERS), dtype=np.int64)
    usual[ordinary, 0] = by_popularity[::-1][np.arange(len(ordinary)) % computers]
    usual[:, 1:] = _sample_popular(rng, popularity_cum, (users, MAX_USUAL_COMPUTERS - 1))
    n_servers = rng.integers(0, MAX_USUAL_COMPUTERS, size=users)
    server_w = rng.gamma(1.0, size=(users, MAX_USUAL_COMPUTERS - 1))
    server_w[np.arange(MAX_USUAL_COMPUTERS - 1)[None, :] >= n_servers[:, None]] = 0.0
    workstation_w = np.where(n_servers == 0, 1.0, rng.uniform(0.5, 0.9, size=users))
    server_sum = server_w.sum(axis=1, keepdims=True)
    server_w = np.divide(server_w, server_sum, out=np.zeros_like(server_w), where=server_sum > 0)
    w = np.concatenate([workstation_w[:, None], server_w * (1.0 - workstation_w)[:, None]], axis=1)
    usual_cum = np.cumsum(w, axis=1)
    usual_cum[np.arange(MAX_USUAL_COMPUTERS)[None, :] >= n_servers[:, None]] = 1.0  # last real + padding
    explore = rng.uniform(0.01, 0.03, size=users)

    # Service accounts: tens to hundreds of hosts each, picked uniformly.
    svc_size = np.zeros(users, dtype=np.int64)
    svc_start = np.zeros(users, dtype=np.int64)
    host_sets = []
    offset = 0
    for u in np.flatnonzero(is_service):
        size = min(computers, int(rng.integers(30, 301)))
        host_sets.append(rng.choice(computers, size=size, replace=False))
        svc_size[u], svc_start[u] = size, offset
        offset += size
    return _Population(
        rates=rates,
        is_service=is_service,
        usual=usual,
        usual_cum=usual_cum,
        explore=explore,
        popularity_cum=popularity_cum,
        svc_hosts=np.concatenate(host_sets),
        svc_start=svc_start,
        svc_size=svc_size,
    )


def _sample_popular(rng: np.random.Generator, popularity_cum: np.ndarray, size) -> np.ndarray:
    idx = np.searchsorted(popularity_cum, rng.random(size), side="right")
    return np.minimum(idx, len(popularity_cum) - 1)


def _hour_cum(profile: np.ndarray) -> np.ndarray:
    cum = np.cumsum(profile / profile.sum())
    cum[-1] = 1.0
    return cum


_WEEKDAY_CUM = _hour_cum(_WEEKDAY_HOURS)
_WEEKEND_CUM = _hour_cum(_WEEKEND_HOURS)


def _day_events(rng: np.random.Generator, pop: _Population, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time, user, computer) arrays for one day, sorted by time."""
    weekend = day % 7 >= 5
    factor = np.where(pop.is_service, 1.0, WEEKEND_FACTOR * WEEKDAY_FACTOR if weekend else WEEKDAY_FACTOR)
    jitter = rng.lognormal(0.0, 0.05)  # day-to-day variation of the whole site
    counts = rng.poisson(pop.rates * factor * jitter)
    user = np.repeat(np.arange(len(counts)), counts)
    n = len(user)
    service = pop.is_service[user]
    svc_idx = np.flatnonzero(service)
    ord_idx = np.flatnonzero(~service)

    second = np.empty(n, dtype=np.int64)
    hour = np.searchsorted(_WEEKEND_CUM if weekend else _WEEKDAY_CUM, rng.random(len(ord_idx)), side="right")
    second[ord_idx] = np.minimum(hour, 23) * 3600 + rng.integers(0, 3600, size=len(ord_idx))
    second[svc_idx] = rng.integers(0, SECONDS_PER_DAY, size=len(svc_idx))

    computer = np.empty(n, dtype=np.int64)
    u = user[ord_idx]
    r = rng.random(len(ord_idx))
    slot = np.zeros(len(ord_idx), dtype=np.int64)
    for k in range(MAX_USUAL_COMPUTERS - 1):  # the last column is always 1.0
        slot += r >= pop.usual_cum[u, k]
    comp = pop.usual[u, slot]
    unusual = rng.random(len(ord_idx)) < pop.explore[u]
    comp[unusual] = _sample_popular(rng, pop.popularity_cum, int(unusual.sum()))
    computer[ord_idx] = comp
    s = user[svc_idx]
    pick = (rng.random(len(svc_idx)) * pop.svc_size[s]).astype(np.int64)
    computer[svc_idx] = pop.svc_hosts[pop.svc_start[s] + pick]

    # Sort by (second, generation index): unique keys, so the fast unstable
    # sort gives the same order as a stable one.
    order = np.sort(second * n + np.arange(n)) % max(n, 1)
    return second[order] + day * SECONDS_PER_DAY, user[order], computer[order]


def _view(pop: _Population) -> PopulationView:
    """What the attack scenarios may see of the population."""
    computers = len(pop.popularity_cum)
    popularity = np.diff(np.concatenate([[0.0], pop.popularity_cum]))
    # Slot k of a user's usual computers is reachable if the cumulative weight before it is below 1.
    reachable = np.ones(pop.usual.shape, dtype=bool)
    reachable[:, 1:] = pop.usual_cum[:, :-1] < 1.0
    reachable[pop.is_service] = False
    habitual = np.bincount(pop.usual[reachable], minlength=computers)
    habitual += np.bincount(pop.svc_hosts, minlength=computers)
    return PopulationView(
        is_service=pop.is_service, rates=pop.rates, usual=pop.usual, popularity=popularity, habitual_users=habitual
    )


def _details_2015(rng: np.random.Generator, pop: _Population, t: np.ndarray, u: np.ndarray, c: np.ndarray) -> DayEvents:
    """Source computer, auth/logon type and success for a day's events, plus benign failed retries.

    Drawn from its own stream, after the (time, user, computer) events, so
    2014 output is unaffected. Returns the day sorted by time, each retry's
    failures just before the attempt that follows them.
    """
    n = len(t)
    service = pop.is_service[u]
    src = pop.usual[u, 0].copy()
    s_idx = np.flatnonzero(service)
    su = u[s_idx]
    home = np.minimum(pop.svc_size[su], SERVICE_HOME_HOSTS)
    src[s_idx] = pop.svc_hosts[pop.svc_start[su] + (rng.random(len(s_idx)) * home).astype(np.int64)]
    local = src == c
    auth = np.where(local, KERBEROS, np.where(rng.random(n) < NTLM_SHARE, NTLM, KERBEROS)).astype(np.uint8)
    logon = np.where(local, np.where(rng.random(n) < UNLOCK_SHARE, UNLOCK, INTERACTIVE), NETWORK).astype(np.uint8)
    auth[s_idx] = np.where(local[s_idx], NEGOTIATE, KERBEROS)
    logon[s_idx] = np.where(local[s_idx], np.where(rng.random(len(s_idx)) < 0.5, SERVICE, BATCH), NETWORK)
    success = np.ones(n, dtype=bool)
    day = DayEvents(time=t, user=u, dst=c, src=src, auth=auth, logon=logon, success=success)

    retried = np.flatnonzero(rng.random(n) < RETRY_RATE)
    if not len(retried):
        return day
    success[retried[rng.random(len(retried)) < GIVE_UP_SHARE]] = False
    attempts = np.where(rng.random(len(retried)) < 0.8, 1, rng.integers(2, 4, size=len(retried)))
    fail_idx = np.repeat(retried, attempts)
    failed = day.take(fail_idx)
    day_start = (t[fail_idx] // SECONDS_PER_DAY) * SECONDS_PER_DAY
    failed.time = np.maximum(t[fail_idx] - rng.integers(1, 31, size=len(fail_idx)), day_start)
    failed.success = np.zeros(len(fail_idx), dtype=bool)
    merged = DayEvents.concat([day, failed])
    # Failures sort before an event in the same second; otherwise generation order.
    key = merged.time * 2 + np.concatenate([np.ones(n, dtype=np.int64), np.zeros(len(fail_idx), dtype=np.int64)])
    return merged.take(np.argsort(key, kind="stable"))


class _Labels2015:
    """Arrow label arrays for rendering 2015 lines."""

    def __init__(self, users: int, computers: int):
        self.user = pa.array([f"U{i}@{DOMAIN}" for i in range(1, users + 1)], pa.string())
        self.computer = pa.array([f"C{i}" for i in range(1, computers + 1)], pa.string())
        self.auth = pa.array(AUTH_TYPES, pa.string())
        self.logon = pa.array(LOGON_TYPES, pa.string())
        # The newline rides on the last field so each line is one join.
        self.success = pa.array(["Fail\n", "Success\n"], pa.string())


def _format_2015(ev: DayEvents, labels: _Labels2015) -> pa.Buffer:
    """Render ``time,U@DOM1,U@DOM1,Csrc,Cdst,auth,logon,LogOn,Success|Fail\\n`` lines."""
    user = pc.take(labels.user, pa.array(ev.user))
    lines = pc.binary_join_element_wise(
        pc.cast(pa.array(ev.time), pa.string()),
        user,
        user,
        pc.take(labels.computer, pa.array(ev.src)),
        pc.take(labels.computer, pa.array(ev.dst)),
        pc.take(labels.auth, pa.array(ev.auth)),
        pc.take(labels.logon, pa.array(ev.logon)),
        ORIENTATION,
        pc.take(labels.success, pa.array(ev.success.astype(np.int8))),
        ",",
    )
    return _buffer(lines)


def _buffer(lines: pa.Array) -> pa.Buffer:
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
    return lines.buffers()[2][int(offsets[0]) : int(offsets[-1])]


def _format(times: np.ndarray, users: np.ndarray, computers: np.ndarray, user_labels: pa.Array, computer_labels: pa.Array) -> pa.Buffer:
    """Render ``time,U<n>,C<n>\\n`` lines with Arrow kernels; return the bytes."""
    lines = pc.binary_join_element_wise(
        pc.cast(pa.array(times), pa.string()),
        pc.take(user_labels, pa.array(users)),
        pc.take(computer_labels, pa.array(computers)),
        ",",
    )
    return _buffer(lines)


def _corrupt_lines(rng: np.random.Generator, n: int, near_time: int) -> bytes:
    """``n`` damaged lines of the kinds real exports carry, timed near ``near_time``."""
    kinds = [
        lambda: f"{near_time},U{rng.integers(1, 99)}".encode(),                 # truncated record
        lambda: b"",                                                            # blank line
        lambda: f"{near_time},U{rng.integers(1, 99)},C1,extra".encode(),        # extra field
        lambda: f"-{near_time},U1,C1".encode(),                                 # negative time
        lambda: bytes(rng.integers(128, 256, 12, dtype=np.uint8)) + b",U1,C1",  # binary garbage
        lambda: f"{near_time},user{rng.integers(1, 99)},C1".encode(),           # malformed user id
    ]
    picks = rng.integers(0, len(kinds), n)
    return b"".join(kinds[k]() + b"\n" for k in picks)


def _open_out(tmp: Path, compress: bool) -> BinaryIO:
    raw = open(tmp, "wb")
    if not compress:
        return raw
    # filename="" and mtime=0 keep the gzip header free of run-specific bytes.
    return gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=2, mtime=0)  # type: ignore[return-value]


def generate(
    out: Path,
    users: int,
    computers: int,
    days: int,
    seed: int,
    events_per_user_day: float = 100.0,
    progress: bool = True,
    corrupt_rate: float = 0.0,
    fmt: str = LANL2014,
    attacks: Sequence[Scenario] | None = None,
    labels: Path | None = None,
) -> GenerateStats:
    """Write a synthetic LANL 2014 or 2015 file (gzip if ``out`` ends with ``.gz``).

    ``corrupt_rate`` mixes in that share of damaged lines (truncated, blank,
    binary garbage...), drawn from their own random stream so the valid events
    are the same with or without them.

    ``attacks`` (see :class:`authpulse_dagster.lanl.scenarios.Difficulty`)
    injects labelled attack scenarios; their events are written as
    ``redteam.txt`` lines to ``labels`` (default: ``<out stem>.redteam.txt``
    next to ``out``) with a ``.scenarios.json`` sidecar. Benign events are the
    same with or without attacks, except those a dormant-account scenario removes.
    """
    fmt = validate_format(fmt)
    if not (0.0 <= corrupt_rate < 1.0):
        raise ConfigError(f"corrupt_rate must be in [0, 1), got {corrupt_rate!r}")
    users = _check_int("users", users, 1)
    computers = _check_int("computers", computers, 2)
    days = _check_int("days", days, 1)
    seed = _check_int("seed", seed, 0)
    try:
        rate = float(events_per_user_day)
    except (TypeError, ValueError):
        rate = float("nan")
    if not (math.isfinite(rate) and rate > 0):
        raise ConfigError(f"events_per_user_day must be a positive number, got {events_per_user_day!r}")
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"output path is a directory, give a file name: {out}")
    attacks = list(attacks or [])
    if labels is not None and not attacks:
        raise ConfigError("a labels file needs attacks to label; give attack scenarios too")
    for scenario in attacks:
        if fmt not in scenario.formats:
            raise ConfigError(f"attack scenario {scenario.name} needs format {' or '.join(scenario.formats)}, not {fmt}")
    labels_path = (Path(labels) if labels is not None else default_labels_path(out)) if attacks else None
    if labels_path is not None and labels_path.resolve() == out.resolve():
        raise ConfigError(f"the labels file must not be the output file: {labels_path}")

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    pop = _population(rng, users, computers, rate)
    injector = Injector(attacks, _view(pop), days, seed) if attacks else None
    details = np.random.default_rng([seed, 2])
    render = _renderer(fmt, users, computers)

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output directory {out.parent}: {exc.strerror or exc}") from None
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    events = corrupt = 0
    noise = np.random.default_rng([seed, 1])
    show = progress and users * rate * days >= PROGRESS_MIN_EVENTS
    try:
        with _open_out(tmp, compress=out.name.endswith(".gz")) as fh:
            for day in tqdm(range(days), desc="generate", unit="day", disable=not show):
                t, u, c = _day_events(rng, pop, day)
                ev = _details_2015(details, pop, t, u, c) if fmt == LANL2015 else DayEvents.basic(t, u, c)
                if injector is not None:
                    ev = injector.inject(day, ev)
                corrupt += _write_day(fh, ev, render, noise, corrupt_rate)
                events += len(ev)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

    stats = GenerateStats(
        events=events,
        users=users,
        computers=computers,
        days=days,
        path=out,
        seconds=0.0,
        corrupt_lines=corrupt,
        format=fmt,
    )
    if injector is not None and labels_path is not None:
        run: dict[str, Any] = dict(
            data=out.name, format=fmt, users=users, computers=computers, days=days, seed=seed,
            events_per_user_day=rate, corrupt_rate=corrupt_rate,
        )  # fmt: skip
        n_labels, side = write_labels(labels_path, injector.injected, fmt, run)
        stats = replace(
            stats,
            attack_events=n_labels,
            attacked_users=len({x.attack.user for x in injector.injected}),
            labels_path=labels_path,
            sidecar_path=side,
        )
    return replace(stats, seconds=time.perf_counter() - started)


def _renderer(fmt: str, users: int, computers: int) -> Callable[[DayEvents], pa.Buffer]:
    """A function turning a slice of events into the bytes of its lines."""
    if fmt == LANL2015:
        labels = _Labels2015(users, computers)
        return lambda ev: _format_2015(ev, labels)
    user_labels = pa.array([f"U{i}" for i in range(1, users + 1)], pa.string())
    # The newline rides on the computer label so each line is one join.
    computer_labels = pa.array([f"C{i}\n" for i in range(1, computers + 1)], pa.string())
    return lambda ev: _format(ev.time, ev.user, ev.dst, user_labels, computer_labels)


def _write_day(fh: BinaryIO, ev: DayEvents, render: Callable[[DayEvents], pa.Buffer], noise: np.random.Generator, corrupt_rate: float) -> int:
    """Write one day's lines, with damaged ones mixed in; returns how many damaged lines."""
    corrupt = 0
    t = ev.time
    for i in range(0, len(t), FORMAT_CHUNK):  # bounded Arrow string sizes
        size = min(FORMAT_CHUNK, len(t) - i)
        n = int(noise.binomial(size, corrupt_rate)) if corrupt_rate and size else 0
        # Damaged lines land at random places, each timed like the line before it.
        cuts = np.sort(noise.integers(1, size + 1, n)) if n else np.array([], dtype=np.int64)
        start = i
        for cut in cuts.tolist():
            stop = i + cut
            if stop > start:
                fh.write(render(ev.take(slice(start, stop))))
            fh.write(_corrupt_lines(noise, 1, int(t[stop - 1])))
            start = stop
        if i + size > start:
            fh.write(render(ev.take(slice(start, i + size))))
        corrupt += n
    return corrupt
