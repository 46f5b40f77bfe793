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
* hosts are entities too (``risk/hosts.py``): a destination computer (and,
  in LANL 2015, a source computer) gets a day score from the users it sees
  for the first time against its own history and its peers', plus the
  evidence of the events those users had on it; a user's day score gets a
  share of the riskiest host they were new on that day, less what their own
  events brought to it (risk flows both ways, never back to where it came
  from), and both decay the same way;
* the alert decision ranks users and hosts together by risk each day and
  alerts the top ``budget.per_1k_users`` per 1,000 users (of the trailing
  ``budget.population_days``) whose risk reaches ``budget.floor`` with
  something new that day, so a day's volume stays within the analysts'
  capacity and a quiet day sends nothing; severity comes from ``alert_high`` /
  ``alert_critical`` (medium below). An entity with an alert in the
  ``alert_window_days - 1`` days before is not re-alerted unless it escalates
  (or, for a host, names users the open alert did not).

Change ``MODEL_VERSION`` whenever a default here changes: every score row
carries it, so old and new scores are never silently mixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# rules-v3: the host to user flow leaves out the user's own evidence on the host.
MODEL_VERSION = "rules-v3"


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
    # ...or a shorter silence that is far longer than any gap the account ever had: an account active
    # every working day that goes quiet for five days and wakes is as suspicious as a rarely used one
    # silent for a week.
    min_gap_days: int = 4
    gap_ratio: float = 2.0  # silence >= gap_ratio * the user's longest earlier gap (days)
    min_active_days: int = 4  # the user needs this many active days to judge their gaps


@dataclass(frozen=True)
class SpreadParams:
    days: int = 3  # new computers are summed over this many days, today included
    min_new: int = 6  # never fire below this many
    ratio: float = 2.0  # and at least this multiple of the user's usual (days * median + 1)


@dataclass(frozen=True)
class NoveltyParams:
    """Slow spreads: new computers accumulated over days with decay, against own and peer rates."""

    decay: float = 0.75  # weight of a day's new computers after one day
    horizon_days: int = 7  # days accumulated, today included
    min_accumulated: float = 4.0  # never fire below this decayed count
    ratio: float = 2.5  # and at least this multiple of the expected accumulation at max(own, peer) rate
    margin: float = 1.5  # plus this, so a user who never explores is not flagged for two new hosts
    min_peers: int = 3  # a peer group (users sharing their main shared host) needs this many members
    shared_host_min_users: int = 3  # a host with at least this many users in the lookback is "shared"


@dataclass(frozen=True)
class CampaignParams:
    """Several users newly on one rare host, or newly coming from one source, the same day."""

    min_users: int = 3  # distinct users with a first use of the host / a new-source route that day
    max_host_users: int = 6  # a destination used by at most this many users in the lookback is rare
    max_source_users: int = 3  # a source that started at most this many users' routes in the lookback is not a hub


@dataclass(frozen=True)
class HostParams:
    """Host entities (destination computers; LANL 2015 source computers too): ``risk/hosts.py``."""

    min_history_days: int = 5  # days the host needs in its own history before that history is its baseline
    min_site_days: int = 3  # days of site history (after the warm-up) before peers are a baseline: until then
    # no host is judged (an empty baseline made every busy host of the first warm day a campaign)
    own_margin: float = 1.0  # expected new users = max(own max in history, peer quantile) * 1 + margin
    peer_quantile: float = 0.99  # peers: hosts of the same role and popularity bucket, over the lookback
    scale: float = 2.0  # day score = 100 * (1 - exp(-excess / scale)) per measure
    source_weight: float = 0.5  # new sources into a destination count this much of a new user
    user_flow: float = 0.5  # share of users' evidence on the host (events of users new to it) added to its day score
    max_related_users: int = 100  # users named on a host alert (riskiest first)


@dataclass(frozen=True)
class FlowParams:
    host_to_user: float = 0.5  # share of the riskiest new host's day score added to a user's day score


@dataclass(frozen=True)
class BudgetParams:
    """The alert decision: ranked risk of users and hosts within the analysts' capacity."""

    per_1k_users: float = 5.0  # alerts per day per 1,000 users (of the trailing population_days)
    floor: float = 50.0  # never alert below this risk score: a quiet day sends nothing
    population_days: int = 7


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
    "slow_novelty": 0.35,
    "campaign_rare_host": 0.45,
    "campaign_shared_source": 0.50,
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
    novelty: NoveltyParams = NoveltyParams()
    campaign: CampaignParams = CampaignParams()
    hosts: HostParams = HostParams()
    flow: FlowParams = FlowParams()
    budget: BudgetParams = BudgetParams()

    high_risk_event: int = 50  # an event at or above this is "high risk"
    day_top_k: int = 5
    day_event_floor: float = 30.0
    decay: float = 0.6
    decay_window_days: int = 7
    alert_high: float = 80.0
    alert_critical: float = 95.0
    alert_max_event_ids: int = 100
    alert_window_days: int = 3  # an open alert covers this many days: a user is re-alerted within it only on escalation

    def __post_init__(self) -> None:
        for name, w in self.weights.items():
            if not 0.0 < w < 1.0:
                raise ValueError(f"weight of {name} must be in (0, 1), got {w}")
        # Medium starts at the budget's floor: below it nothing is alerted, whatever the budget.
        if not self.budget.floor <= self.alert_high <= self.alert_critical:
            raise ValueError("alert thresholds must satisfy medium <= high <= critical (medium = budget.floor)")
        if not 0.0 <= self.decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {self.decay}")

    def severity(self, score: float) -> str | None:
        if score >= self.alert_critical:
            return "critical"
        if score >= self.alert_high:
            return "high"
        if score >= self.budget.floor:
            return "medium"
        return None
