"""Request and response bodies: the OpenAPI document is generated from these.

Requests forbid unknown fields and take no coercions (``"5"`` is not a
number); identifiers that reach a lookup are constrained to the characters
real ids use, so SQL or path metacharacters are refused up front (the
lookups bind parameters anyway).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, model_validator

from authpulse_dagster.api.triage import STATUSES

Status = Literal["open", "acknowledged", "closed", "false_positive"]
Severity = Literal["medium", "high", "critical"]
EntityType = Literal["user", "host"]
assert set(STATUSES) == {"open", "acknowledged", "closed", "false_positive"}

# LANL ids: U123, C456, C1065$, ANONYMOUS LOGON, U1@DOM1; nothing a query language treats specially.
ENTITY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.$@-]{0,127}$"
ALERT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
QUERY_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
ASSIGNEE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.@+-]{0,127}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorDetail(BaseModel):
    where: str
    problem: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    request_id: str
    details: list[ErrorDetail] | None = None


class ErrorBody(BaseModel):
    error: ErrorInfo


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Triage(BaseModel):
    status: Status
    assignee: str | None = None
    note: str | None = None
    version: int = Field(description="Increases by one with every change; the ETag names it")
    updated_at: str | None = None
    updated_by: str | None = Field(None, description="Name of the API key that made the last change")


class TriageResponse(Triage):
    alert_id: str


class AlertSummary(BaseModel):
    alert_id: str
    entity_type: EntityType | str
    entity: str
    user_id: str
    event_date: date
    severity: str
    score: float
    reasons: list[str]
    high_risk_events: int
    first_event_ts: datetime | None = None
    last_event_ts: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    status: Status
    assignee: str | None = None


class AlertPage(BaseModel):
    items: list[AlertSummary]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last page")


class RiskDay(BaseModel):
    event_date: date
    risk_score: float | None = Field(None, description="Decayed risk score (users)")
    day_score: float | None = None
    max_event_score: int | None = None
    high_risk_events: int | None = None
    events: int | None = None
    top_reasons: list[str] = Field(default_factory=list)
    distinct_users: int | None = Field(None, description="Users who authenticated to the host that day (hosts)")
    distinct_users_lookback: int | None = None
    rarity: float | None = None


class AlertEvent(BaseModel):
    event_id: str
    event_ts: datetime | None = None
    computer_id: str | None = Field(None, description="Destination computer")
    src_computer_id: str | None = Field(None, description="Source computer (LANL 2015)")
    score: int | None = None
    reasons: list[str] = Field(default_factory=list, description="Rules that fired on the event")
    auth_type: str | None = None
    logon_type: str | None = None
    orientation: str | None = None
    success: bool | None = None


class AuditEntry(BaseModel):
    version: int
    at: str
    by: str
    from_status: Status
    to_status: Status
    from_assignee: str | None = None
    to_assignee: str | None = None
    note: str | None = None


class AlertDetail(AlertSummary):
    triage: Triage
    risk: list[RiskDay] = Field(description="The entity's daily risk over the decay window ending on the alert's day")
    events: list[AlertEvent] = Field(description="Top contributing events, in time order")
    history: list[AuditEntry] = Field(description="Every triage change, oldest first")


class TriagePatch(Strict):
    status: Status | None = None
    assignee: Annotated[str, Field(pattern=ASSIGNEE_PATTERN)] | None = Field(None, description="null unassigns")
    note: Annotated[str, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _something(self) -> "TriagePatch":
        if not self.model_fields_set:
            raise ValueError("give at least one of status, assignee, note")
        if self.note is not None and any(ord(c) < 32 and c not in "\n\t" for c in self.note):
            raise ValueError("note must not contain control characters")
        return self


class Entity(BaseModel):
    entity_type: EntityType
    entity: str
    since: date
    until: date
    days: list[RiskDay]
    alerts: list[AlertSummary]


class QueryParamInfo(BaseModel):
    name: str
    type: Literal["date", "string", "int", "float", "choice"]
    required: bool
    default: str | None = None
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: list[str] | None = None


class QueryInfo(BaseModel):
    name: str
    summary: str
    description: str
    params: list[QueryParamInfo]


class QueryList(BaseModel):
    queries: list[QueryInfo]


ParamValue = Union[Annotated[StrictStr, Field(max_length=256)], StrictInt, StrictFloat]


class QueryRequest(Strict):
    params: Annotated[dict[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,63}$")], ParamValue], Field(max_length=20)] = Field(
        default_factory=dict
    )
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


class QueryResult(BaseModel):
    query: str
    columns: list[str]
    rows: list[dict[str, Any]]
    row_count: int
    truncated: bool = Field(description="True when the query had more rows than `limit`")
