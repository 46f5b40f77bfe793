"""Score the risk engine's output against red-team labels.

Reads the labels (``redteam.txt`` shape) and, if present, the generator's
scenario sidecar, then the gold tables through pyiceberg: ``alerts`` (who was
alerted when), ``user_risk_daily`` (the per-user daily score behind PR-AUC)
and ``auth_events`` (how many users and days the volume is normalised by).
All the arithmetic lives in :mod:`authpulse_dagster.evaluation.metrics`.

Without a sidecar (e.g. the real LANL ``redteam.txt``) the report has only the
overall row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, GreaterThanOrEqual, LessThanOrEqual
from pyiceberg.table import Table

from authpulse_dagster.errors import ConfigError, InputError
from authpulse_dagster.evaluation.metrics import (
    alerts_per_day_per_1k_users,
    average_precision,
    detection,
    precision_of_alerted,
)
from authpulse_dagster.evaluation.report import OVERALL, EntityRow, EvaluationReport, Row, Target
from authpulse_dagster.lakehouse.catalog import load_catalog
from authpulse_dagster.lakehouse.schemas import ALERTS, AUTH_EVENTS, USER_RISK_DAILY, TableDef
from authpulse_dagster.lakehouse.tables import days_filter
from authpulse_dagster.lanl.labels import Label, VictimInfo, read_labels, read_sidecar, sidecar_path
from authpulse_dagster.settings import Settings

UNKNOWN_SCENARIO = "unknown"
USER, HOST = "user", "host"


def by_scenario(victim: VictimInfo) -> str:
    """The default grouping of attacked users: their scenario."""
    return victim.scenario


def by_scenario_and_intensity(victim: VictimInfo) -> str:
    """Scenario and intensity (``lateral_movement@0.5``): one run may hold a family at several intensities."""
    intensity = victim.params.get("intensity")
    return victim.scenario if intensity is None else f"{victim.scenario}@{float(intensity):g}"


@dataclass(frozen=True)
class _Truth:
    """Labels turned into days: per attacked user their labelled days, and their scenario."""

    days: dict[str, set[date]]
    scenario: dict[str, str]
    events: int

    def span(self, user: str) -> tuple[date, date]:
        return min(self.days[user]), max(self.days[user])


def evaluate(
    settings: Settings,
    labels_path: Path,
    start: date | None = None,
    end: date | None = None,
    target: Target = Target(),
    group: Callable[[VictimInfo], str] = by_scenario,
) -> EvaluationReport:
    """Compare alerts and daily scores in the catalog with the labels; the window defaults to every day of auth_events.

    A host alert names users (``related_users``): it detects each of them
    (the analyst sees them all) and each counts as alerted for precision.
    ``group`` names the row an attacked user is reported in (default: its scenario).
    """
    labels_path = Path(labels_path)
    labels = read_labels(labels_path)
    victims = read_sidecar(sidecar_path(labels_path))
    catalog = load_catalog(settings)

    if start and end and start > end:
        raise ConfigError(f"the evaluation window starts ({start}) after it ends ({end})")
    users, days = _population(_table(catalog, AUTH_EVENTS), _window_filter(start, end))
    if not days:
        raise InputError("auth_events has no rows in the evaluation window; run the pipeline first")
    first, last = start or min(days), end or max(days)
    window = days_filter([first, last])

    truth = _truth(labels, victims, settings, first, last, group)
    alert_rows = _read(_table(catalog, ALERTS), window, ("user_id", "event_date", "entity_type", "related_users"))
    named = [
        (HOST if kind == HOST else USER, day, {user} | set(related or ()) if kind == HOST else {user})
        for user, day, kind, related in zip(
            alert_rows["user_id"], alert_rows["event_date"], alert_rows["entity_type"], alert_rows["related_users"]
        )
    ]
    alerts = sorted({(u, d) for _, d, users in named for u in users})
    score_rows = _read(_table(catalog, USER_RISK_DAILY), window, ("user_id", "event_date", "risk_score"))
    scores: dict[tuple[str, date], float] = {}
    for u, d, s in zip(score_rows["user_id"], score_rows["event_date"], score_rows["risk_score"]):
        scores[(u, d)] = max(scores.get((u, d), float("-inf")), float(s))

    n_days = (last - first).days + 1
    overall = _row(OVERALL, set(truth.days), truth, alerts, scores)
    alerted = {u for u, _ in alerts}
    overall = replace(
        overall,
        alerted_users=len(alerted),
        precision=precision_of_alerted(truth.days, alerted),
        alerts_per_day_per_1k=alerts_per_day_per_1k_users(len(named), n_days, max(len(users), 1)),
    )
    entities = tuple(_entity_row(kind, [x for x in named if x[0] == kind], truth) for kind in (USER, HOST))
    # Scenarios in the sidecar's (generation) order; victims without labels in the window are left out.
    order = [*dict.fromkeys(group(v) for v in victims.values()), UNKNOWN_SCENARIO]
    by_scenario: dict[str, set[str]] = {name: set() for name in order}
    for user in truth.days:
        by_scenario[truth.scenario[user]].add(user)
    rows = tuple(_row(name, members, truth, alerts, scores) for name, members in by_scenario.items() if members) if victims else ()
    caught = detection({u: truth.span(u) for u in truth.days}, alerts).detected
    missed = tuple(sorted((u, truth.scenario[u]) for u in truth.days if u not in caught))
    return EvaluationReport(
        labels_path=labels_path,
        first_day=first,
        last_day=last,
        days=n_days,
        users=len(users),
        alerts=len(named),
        label_events=truth.events,
        scenarios=rows,
        overall=overall,
        missed=missed,
        target=target,
        entities=entities,
    )


def _entity_row(kind: str, named: list[tuple[str, date, set[str]]], truth: _Truth) -> EntityRow:
    """Alerts of one entity type: how many name an attacked user within its detection window, whom they catch."""
    true_alerts = 0
    caught: set[str] = set()
    for _, day, users in named:
        hit = {u for u in users if u in truth.days and truth.span(u)[0] <= day <= truth.span(u)[1] + timedelta(days=1)}
        true_alerts += bool(hit)
        caught |= hit
    named_users = {u for _, _, users in named for u in users}
    return EntityRow(
        entity_type=kind,
        alerts=len(named),
        true_alerts=true_alerts,
        precision=true_alerts / len(named) if named else None,
        named_users=len(named_users),
        detected_users=len(caught),
    )


def _row(
    name: str, members: set[str], truth: _Truth, alerts: list[tuple[str, date]], scores: dict[tuple[str, date], float]
) -> Row:
    """Recall, delay and PR-AUC for ``members``; negatives are every user-day that no attacked user has labelled."""
    found = detection({u: truth.span(u) for u in members}, alerts)
    positives = {(u, d) for u in members for d in truth.days[u]}
    all_positives = {(u, d) for u, ds in truth.days.items() for d in ds}
    negatives = [s for key, s in scores.items() if key not in all_positives]
    pos_scores = [scores.get(key, 0.0) for key in sorted(positives)]  # a labelled day without a score row scored 0
    return Row(
        scenario=name,
        attacked_users=found.attacked,
        detected_users=len(found.detected),
        recall=found.recall,
        mean_delay_days=found.mean_delay_days,
        pr_auc=average_precision(pos_scores + negatives, [True] * len(pos_scores) + [False] * len(negatives)),
        positive_user_days=len(positives),
    )


def _truth(
    labels: list[Label], victims: dict[str, VictimInfo], settings: Settings, first: date, last: date,
    group: Callable[[VictimInfo], str] = by_scenario,
) -> _Truth:
    epoch = settings.dataset_epoch
    days: dict[str, set[date]] = defaultdict(set)
    events = 0
    for label in labels:
        day = (epoch + timedelta(seconds=label.time)).date()
        if first <= day <= last:
            days[label.user].add(day)
            events += 1
    scenario = {u: group(victims[u]) if u in victims else UNKNOWN_SCENARIO for u in days}
    return _Truth(days=dict(days), scenario=scenario, events=events)


def _table(catalog: Catalog, table_def: TableDef) -> Table:
    try:
        return catalog.load_table(table_def.identifier)
    except NoSuchTableError:
        raise InputError(
            f"table {table_def.identifier} does not exist; run the pipeline and the risk engine before evaluating"
        ) from None


def _read(table: Table, row_filter: BooleanExpression, columns: tuple[str, ...]) -> dict[str, list]:
    data = table.scan(row_filter=row_filter, selected_fields=columns).to_arrow()
    return {c: data.column(c).to_pylist() for c in columns}


def _window_filter(start: date | None, end: date | None) -> BooleanExpression:
    bounds: list[BooleanExpression] = []
    if start:
        bounds.append(GreaterThanOrEqual("event_date", start.isoformat()))
    if end:
        bounds.append(LessThanOrEqual("event_date", end.isoformat()))
    return And(*bounds) if len(bounds) == 2 else (bounds[0] if bounds else AlwaysTrue())


def _population(table: Table, row_filter: BooleanExpression) -> tuple[set[str], set[date]]:
    """Distinct users and days of auth_events, streamed batch by batch (the table can be large)."""
    users: set[str] = set()
    days: set[date] = set()
    reader = table.scan(row_filter=row_filter, selected_fields=("user_id", "event_date")).to_arrow_batch_reader()
    for batch in reader:
        users.update(pc.unique(batch.column("user_id")).to_pylist())
        days.update(pc.unique(batch.column("event_date")).to_pylist())
    return users, days

