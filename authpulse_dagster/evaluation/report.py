"""The evaluation report: what ``authpulse evaluate`` prints and the lead's tests assert on.

Per-scenario rows show what is meaningful per scenario (recall, detection
delay, PR-AUC on that scenario's user-days); precision and alert volume are
properties of the whole alert stream, so only the overall row carries them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

OVERALL = "overall"


@dataclass(frozen=True)
class Target:
    """The issue's acceptance target on generated data (1,000 users, 14 days)."""

    min_recall: float = 0.9
    max_alerts_per_day_per_1k: float = 5.0


@dataclass(frozen=True)
class Row:
    """One line of the report: a scenario, or ``overall``."""

    scenario: str
    attacked_users: int
    detected_users: int
    recall: float | None
    mean_delay_days: float | None
    pr_auc: float | None
    positive_user_days: int
    alerted_users: int | None = None  # overall only
    precision: float | None = None  # overall only
    alerts_per_day_per_1k: float | None = None  # overall only


@dataclass(frozen=True)
class EntityRow:
    """The alerts of one entity type (``user`` or ``host``): how many were right, whom they caught.

    An alert is *true* when it names an attacked user within that user's
    detection window (first labelled day .. last + 1); a host alert names
    its related users.
    """

    entity_type: str
    alerts: int
    true_alerts: int
    precision: float | None
    named_users: int
    detected_users: int


@dataclass(frozen=True)
class EvaluationReport:
    labels_path: Path
    first_day: date
    last_day: date
    days: int
    users: int
    alerts: int
    label_events: int
    scenarios: tuple[Row, ...]
    overall: Row
    missed: tuple[tuple[str, str], ...]  # (user, scenario) of attacked users without a timely alert
    target: Target = Target()
    entities: tuple[EntityRow, ...] = ()

    @property
    def passed(self) -> bool:
        """Recall and volume targets both met (a run with no attacked user cannot pass)."""
        o = self.overall
        return (
            o.recall is not None
            and o.recall >= self.target.min_recall
            and o.alerts_per_day_per_1k is not None
            and o.alerts_per_day_per_1k <= self.target.max_alerts_per_day_per_1k
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["labels_path"] = str(self.labels_path)
        d["first_day"] = self.first_day.isoformat()
        d["last_day"] = self.last_day.isoformat()
        d["missed"] = [{"user": u, "scenario": s} for u, s in self.missed]
        d["passed"] = self.passed
        return d


_COLUMNS = (
    ("scenario", 20, "s"),
    ("attacked", 8, "d"),
    ("detected", 8, "d"),
    ("recall", 6, ".3f"),
    ("delay_d", 7, ".1f"),
    ("alerted", 7, "d"),
    ("precision", 9, ".3f"),
    ("alerts/day/1k", 13, ".2f"),
    ("PR-AUC", 6, ".3f"),
)


def _cells(row: Row) -> tuple[object, ...]:
    return (
        row.scenario,
        row.attacked_users,
        row.detected_users,
        row.recall,
        row.mean_delay_days,
        row.alerted_users,
        row.precision,
        row.alerts_per_day_per_1k,
        row.pr_auc,
    )


def _line(values: tuple[object, ...]) -> str:
    out = []
    for (name, width, spec), value in zip(_COLUMNS, values):
        text = "-" if value is None else (str(value) if isinstance(value, str) else format(value, spec))
        out.append(text.ljust(width) if name == "scenario" else text.rjust(max(width, len(name))))
    return "  ".join(out).rstrip()


def render_table(report: EvaluationReport) -> str:
    """The human-readable report: header, one row per scenario, overall, target verdict, missed users."""
    t = report.target
    o = report.overall
    lines = [
        f"evaluated {report.users} users over {report.days} days ({report.first_day}..{report.last_day}): "
        f"{report.alerts} alerts, {o.attacked_users} attacked users, {report.label_events} labelled events",
        _line(tuple(name for name, _, _ in _COLUMNS)),
        *(_line(_cells(r)) for r in report.scenarios),
        _line(_cells(o)),
    ]
    recall = "-" if o.recall is None else f"{o.recall:.3f}"
    volume = "-" if o.alerts_per_day_per_1k is None else f"{o.alerts_per_day_per_1k:.2f}"
    lines.append(
        f"target: recall >= {t.min_recall:.2f} with <= {t.max_alerts_per_day_per_1k:g} alerts/day/1k users "
        f"(got {recall}, {volume}): {'PASS' if report.passed else 'FAIL'}"
    )
    for e in report.entities:
        precision = "-" if e.precision is None else f"{e.precision:.3f}"
        lines.append(
            f"{e.entity_type} alerts: {e.alerts} ({e.true_alerts} naming an attacked user in time, precision {precision}), "
            f"{e.named_users} users named, {e.detected_users} attacked users caught"
        )
    if report.missed:
        lines.append("missed: " + ", ".join(f"{u} ({s})" for u, s in report.missed))
    return "\n".join(lines)
