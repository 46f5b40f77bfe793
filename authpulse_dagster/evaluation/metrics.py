"""Detection metrics, as pure functions over plain Python and numpy values.

Kept free of I/O so each definition can be checked on hand-computed cases;
:mod:`authpulse_dagster.evaluation.evaluate` feeds them from the tables.

Definitions (the issue's):

* an attacked user is **detected** if they have an alert on a day from their
  first labelled day through their last labelled day + 1 (an alert the day
  after still catches a late-evening attack); the **delay** is the first such
  alert day minus the first labelled day;
* **precision** of alerted users = alerted users that are attacked / alerted users;
* **volume** = alerts per day per 1,000 users;
* **PR-AUC** of the per-user daily score is the average precision over
  user-days (positive = the user has labelled events that day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Mapping

import numpy as np


@dataclass(frozen=True)
class Detection:
    """Which attacked users were caught, and how late."""

    attacked: int
    detected: frozenset[str]
    delays_days: Mapping[str, int]  # detected user -> first alert day - first labelled day

    @property
    def recall(self) -> float | None:
        return len(self.detected) / self.attacked if self.attacked else None

    @property
    def mean_delay_days(self) -> float | None:
        return float(np.mean(list(self.delays_days.values()))) if self.delays_days else None


def detection(attacked: Mapping[str, tuple[date, date]], alerts: Iterable[tuple[str, date]]) -> Detection:
    """Match alerts to attacked users.

    ``attacked`` maps a user to (first, last) labelled day; ``alerts`` are
    (user, alert day) pairs. A user counts as detected by an alert within
    [first, last + 1 day]; alerts before the attack do not count.
    """
    first_hit: dict[str, date] = {}
    for user, day in alerts:
        span = attacked.get(user)
        if span is None or not (span[0] <= day <= span[1] + timedelta(days=1)):
            continue
        if user not in first_hit or day < first_hit[user]:
            first_hit[user] = day
    delays = {user: (day - attacked[user][0]).days for user, day in first_hit.items()}
    return Detection(attacked=len(attacked), detected=frozenset(first_hit), delays_days=delays)


def precision_of_alerted(attacked_users: Iterable[str], alerted_users: Iterable[str]) -> float | None:
    """Share of alerted users that are attacked; None when nobody was alerted (undefined, not zero)."""
    alerted = set(alerted_users)
    if not alerted:
        return None
    return len(alerted & set(attacked_users)) / len(alerted)


def alerts_per_day_per_1k_users(alerts: int, days: int, users: int) -> float:
    """Alert volume normalised by window length and population: what an analyst team must absorb."""
    if days <= 0 or users <= 0:
        raise ValueError(f"need at least one day and one user, got days={days}, users={users}")
    return alerts / days / users * 1000.0


def average_precision(scores: Iterable[float], labels: Iterable[bool]) -> float | None:
    """Area under the precision-recall curve as average precision (the step-wise sum, no interpolation).

    AP = sum over distinct score thresholds t (high to low) of
    (recall(t) - recall(previous t)) * precision(t), where everything scoring
    >= t is flagged. Tied scores enter together, so ties cannot be ordered in
    the detector's favour. Same definition as scikit-learn's
    ``average_precision_score``. None when there is no positive.
    """
    s = np.asarray(list(scores), dtype=float)
    y = np.asarray(list(labels), dtype=bool)
    if s.shape != y.shape:
        raise ValueError(f"scores and labels differ in length: {s.shape} vs {y.shape}")
    positives = int(y.sum())
    if positives == 0:
        return None
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    tp = np.cumsum(y)
    fp = np.cumsum(~y)
    last_of_tie = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    tp, fp = tp[last_of_tie], fp[last_of_tie]
    precision = tp / (tp + fp)
    recall = tp / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
