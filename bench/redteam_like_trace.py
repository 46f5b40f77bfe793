"""Write a red-team trace shaped like LANL's real one, for `bench/evaluate_risk.py --overlay`.

    bench/redteam_like_trace.py OUT [--seed 5] [--days 7]

The real ``redteam.txt`` is not redistributable. What is public about its
shape (``../shared/DOMAIN.md`` §8) is reproduced here: 749 lines
``time,user@domain,src,dst``, 98 users, only 4 source computers (701, 26, 19
and 3 of the lines), 301 destination computers, and on its busiest days one
source authenticating as 30-50 distinct users. The real trace spreads over
18 of 29 days; the evaluation's background is 14 days with the trace on the
last 7, so this one packs the same lines into ``--days`` consecutive days
(one of them quiet, as the real trace has gaps), working hours mostly.

This is not the real trace: a number measured on it says how the engine does
on that shape, not on LANL's red team.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

LINES_PER_SOURCE = {"C17693": 701, "C22409": 26, "C19932": 19, "C18025": 3}  # the real trace's sources and counts
USERS, DESTINATIONS = 98, 301
DAY = 86_400


def trace_lines(seed: int, days: int) -> list[str]:
    rng = random.Random(seed)
    users = [f"U{rng.randrange(10_000, 99_999)}" for _ in range(USERS * 2)]
    users = list(dict.fromkeys(users))[:USERS]
    dsts = [f"C{n}" for n in rng.sample(range(100, 30_000), DESTINATIONS)]
    active = [d for d in range(days) if d != days // 2]  # one quiet day in the middle
    busiest = set(rng.sample(active, 2))
    # The main foothold's lines by day: the two busiest days carry most, as 30-50 distinct users each.
    main = LINES_PER_SOURCE["C17693"]
    weights = [6.0 if d in busiest else 1.0 for d in active]
    per_day = [int(main * w / sum(weights)) for w in weights]
    per_day[0] += main - sum(per_day)
    # Each day's crowd of accounts; together they are every user of the trace.
    rng.shuffle(users)
    sizes = {d: rng.randint(35, 48) for d in sorted(busiest)}
    start, crowds = 0, {}
    for d in sorted(busiest):
        crowds[d], start = users[start : start + sizes[d]], start + sizes[d]
    rest, quiet = users[start:], [d for d in active if d not in busiest]
    for k, d in enumerate(quiet):
        own = rest[k :: len(quiet)]
        crowds[d] = own + rng.sample(users[:start], max(0, rng.randint(5, 15) - len(own)))
    rows: list[tuple[int, str, str, str]] = []
    for day, n in zip(active, per_day):
        crowd = crowds[day]
        for i in range(n):
            user = crowd[i % len(crowd)]  # every user of the day's crowd at least once
            rows.append((day * DAY + _work_time(rng), user, "C17693", rng.choice(dsts)))
    for src in ("C22409", "C19932", "C18025"):
        for _ in range(LINES_PER_SOURCE[src]):
            rows.append((rng.choice(active) * DAY + _work_time(rng), rng.choice(users), src, rng.choice(dsts)))
    # Every destination appears at least once, as in the real counts.
    for i, dst in enumerate(dsts):
        t, user, src, _ = rows[i]
        rows[i] = (t, user, src, dst)
    return [f"{t},{user}@DOM1,{src},{dst}" for t, user, src, dst in sorted(rows)]


def _work_time(rng: random.Random) -> int:
    hour = rng.gauss(13, 2.5) if rng.random() < 0.9 else rng.uniform(0, 24)
    return int(min(max(hour, 0.0), 23.99) * 3600)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--days", type=int, default=7)
    args = ap.parse_args()
    lines = trace_lines(args.seed, args.days)
    args.out.write_text("\n".join(lines) + "\n")
    users = {line.split(",")[1] for line in lines}
    dsts = {line.split(",")[3] for line in lines}
    print(f"{args.out}: {len(lines)} lines, {len(users)} users, {len(dsts)} destinations, sources {LINES_PER_SOURCE}")


if __name__ == "__main__":
    main()
