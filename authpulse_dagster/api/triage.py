"""Triage statuses and the moves between them.

``open`` → ``acknowledged`` → ``closed`` | ``false_positive``; an analyst can
put an acknowledged alert back to ``open`` and reopen a closed or
false-positive one. Anything else is refused (409) so the audit trail always
tells a sensible story.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OPEN = "open"
ACKNOWLEDGED = "acknowledged"
CLOSED = "closed"
FALSE_POSITIVE = "false_positive"
STATUSES = (OPEN, ACKNOWLEDGED, CLOSED, FALSE_POSITIVE)

TRANSITIONS: dict[str, frozenset[str]] = {
    OPEN: frozenset({ACKNOWLEDGED}),
    ACKNOWLEDGED: frozenset({OPEN, CLOSED, FALSE_POSITIVE}),
    CLOSED: frozenset({OPEN}),
    FALSE_POSITIVE: frozenset({OPEN}),
}


def can_move(current: str, target: str) -> bool:
    return target == current or target in TRANSITIONS.get(current, frozenset())


@dataclass(frozen=True)
class TriageState:
    """The triage record of one alert; ``version`` 0 means never triaged (an implicit ``open``)."""

    alert_id: str
    status: str = OPEN
    assignee: str | None = None
    note: str | None = None
    version: int = 0
    updated_at: str | None = None
    updated_by: str | None = None
    # Copied from the alert when it is triaged, so suppressions need no lakehouse read.
    entity_type: str | None = None
    entity: str | None = None
    event_date: str | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def etag(self) -> str:
        return etag_of(self.alert_id, self.version)


def etag_of(alert_id: str, version: int) -> str:
    """A strong ETag naming the alert's triage version (quoted, as HTTP wants it)."""
    return f'"{alert_id}.{version}"'
