"""Every weight, threshold and parameter of the risk model, in one place.

How a score is made (README, "Risk scores"):

* each rule that fires on an event contributes its weight ``w`` in (0, 1);
  the event score is ``100 * (1 - prod(1 - w))``: independent evidence
  combines like probabilities, one rule alone never reaches 100, and the
  order of rules does not matter;
* a user's day score is the sum, over the user's ``day_top_k`` highest event
  scores that day, of how far each is above ``day_event_floor`` (so the many
  low scores of an ordinary day add nothing, and several strong events add up);
* the user's risk score for a day is the day scores of the last
  ``decay_window_days`` days weighted by ``decay ** age``, capped at 100, so
  a slow attack accumulates and a single odd day fades;
* an alert is raised for a user and day when that risk score reaches
  ``alert_medium`` (severity by ``alert_high`` / ``alert_critical``) with
  something new that day, unless the user already has an alert from the
  ``alert_window_days - 1`` days before at the same or a higher severity
  (that alert is still open: one alert per user and window, not one a day).

Change ``MODEL_VERSION`` whenever a default here changes: every score row
carries it, so old and new scores are never silently mixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MODEL_VERSION = "rules-v1"


@dataclass(frozen=True)
class HistoryParams:
    lookback_days: int = 30  # how far back "seen before" and baselines look
    min_history_days: int = 7  # site history needed before history-based rules may fire


@dataclass(frozen=True)
class RareHostParams:
    max_users: int = 3  # a computer used by at most this many users over the lookback is rare


@dataclass(frozen=True)
class SpikeParams:
    """A trailing-window count compared with the user's daily peaks over the lookback."""

    window_seconds: int
    min_count: int  # never fire below this absolute count
    z: float = 6.0  # robust z-score: (x - median) / (1.4826 * MAD)
    min_scale: float = 1.0  # floor for 1.4826 * MAD, so a constant history is not infinitely strict
    min_ratio: float = 1.5  # and at least this multiple of the median: daily peaks of busy accounts are
    # steady (tiny MAD), and a sliding window legitimately sees more than the tumbling windows they come from
    min_baseline_days: int = 5  # the user needs this many active days of history


@dataclass(frozen=True)
class OffHoursParams:
    max_share: float = 0.05  # an hour the user was active on at most this share of active days is unusual
    min_active_days: int = 5  # need this many active days to know the user's hours


@dataclass(frozen=True)
class DormantParams:
    dormant_days: int = 7  # no activity on this many days before, but activity earlier = dormant


@dataclass(frozen=True)
class SpreadParams:
    days: int = 3  # new computers are summed over this many days, today included
    min_new: int = 6  # never fire below this many
    ratio: float = 2.0  # and at least this multiple of the user's usual (days * median + 1)


@dataclass(frozen=True)
class FailedLogonParams:
    window_seconds: int = 300
    min_failures: int = 10


# Tuned on generated data (bench/evaluate_risk.py): a rule that fires on ordinary
# days too (first_time_access, off_hours) stays below day_event_floor alone;
# two independent signals, or one strong one, are needed to matter.
DEFAULT_WEIGHTS: dict[str, float] = {
    "first_time_access": 0.20,
    "rare_host": 0.35,
    "fan_out_spike": 0.55,
    "velocity_spike": 0.35,
    "off_hours": 0.15,
    "new_or_dormant_account": 0.45,
    "new_host_spread": 0.40,
    "new_src_dst_pair": 0.35,
    "failed_logon_burst": 0.45,
}


@dataclass(frozen=True)
class RiskConfig:
    model_version: str = MODEL_VERSION
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    history: HistoryParams = HistoryParams()
    rare_host: RareHostParams = RareHostParams()
    fan_out: SpikeParams = SpikeParams(window_seconds=3600, min_count=8)
    velocity: SpikeParams = SpikeParams(window_seconds=300, min_count=25)
    off_hours: OffHoursParams = OffHoursParams()
    dormant: DormantParams = DormantParams()
    spread: SpreadParams = SpreadParams()
    failed_logons: FailedLogonParams = FailedLogonParams()

    high_risk_event: int = 50  # an event at or above this is "high risk"
    day_top_k: int = 5
    day_event_floor: float = 30.0
    decay: float = 0.6
    decay_window_days: int = 7
    alert_medium: float = 60.0
    alert_high: float = 80.0
    alert_critical: float = 95.0
    alert_max_event_ids: int = 100
    alert_window_days: int = 3  # an open alert covers this many days: a user is re-alerted within it only on escalation

    def __post_init__(self) -> None:
        for name, w in self.weights.items():
            if not 0.0 < w < 1.0:
                raise ValueError(f"weight of {name} must be in (0, 1), got {w}")
        if not self.alert_medium <= self.alert_high <= self.alert_critical:
            raise ValueError("alert thresholds must satisfy medium <= high <= critical")
        if not 0.0 <= self.decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {self.decay}")

    def severity(self, score: float) -> str | None:
        if score >= self.alert_critical:
            return "critical"
        if score >= self.alert_high:
            return "high"
        if score >= self.alert_medium:
            return "medium"
        return None
