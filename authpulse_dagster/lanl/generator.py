"""Synthetic LANL-2014-format authentication logs (``time,U<n>,C<n>``).

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
"""

from __future__ import annotations

import gzip
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from authpulse_dagster.errors import ConfigError

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


def _format(times: np.ndarray, users: np.ndarray, computers: np.ndarray, user_labels: pa.Array, computer_labels: pa.Array) -> pa.Buffer:
    """Render ``time,U<n>,C<n>\\n`` lines with Arrow kernels; return the bytes."""
    lines = pc.binary_join_element_wise(
        pc.cast(pa.array(times), pa.string()),
        pc.take(user_labels, pa.array(users)),
        pc.take(computer_labels, pa.array(computers)),
        ",",
    )
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
    return lines.buffers()[2][int(offsets[0]) : int(offsets[-1])]


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
) -> GenerateStats:
    """Write a synthetic LANL 2014 file (gzip if ``out`` ends with ``.gz``).

    ``corrupt_rate`` mixes in that share of damaged lines (truncated, blank,
    binary garbage...), drawn from their own random stream so the valid events
    are the same with or without them.
    """
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

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    pop = _population(rng, users, computers, rate)
    user_labels = pa.array([f"U{i}" for i in range(1, users + 1)], pa.string())
    # The newline rides on the computer label so each line is one join.
    computer_labels = pa.array([f"C{i}\n" for i in range(1, computers + 1)], pa.string())

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
                for i in range(0, len(t), FORMAT_CHUNK):  # bounded Arrow string sizes
                    j = i + FORMAT_CHUNK
                    size = len(t[i:j])
                    n = int(noise.binomial(size, corrupt_rate)) if corrupt_rate and size else 0
                    # Damaged lines land at random places, each timed like the line before it.
                    cuts = np.sort(noise.integers(1, size + 1, n)) if n else np.array([], dtype=np.int64)
                    start = i
                    for cut in cuts.tolist():
                        stop = i + cut
                        if stop > start:
                            fh.write(_format(t[start:stop], u[start:stop], c[start:stop], user_labels, computer_labels))
                        fh.write(_corrupt_lines(noise, 1, int(t[stop - 1])))
                        start = stop
                    if i + size > start:
                        fh.write(_format(t[start : i + size], u[start : i + size], c[start : i + size], user_labels, computer_labels))
                    corrupt += n
                events += len(t)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return GenerateStats(
        events=events,
        users=users,
        computers=computers,
        days=days,
        path=out,
        seconds=time.perf_counter() - started,
        corrupt_lines=corrupt,
    )
