"""The FastAPI app: ``/v1`` alerts, entities and named queries, ``/healthz``, and its OpenAPI document.

Authentication is ``Authorization: Bearer <key>`` on every ``/v1`` route: no
or an unknown, malformed or revoked key is 401; a key whose scope does not
cover the route is 403 (``read`` reads and runs queries, ``triage`` also
changes triage state). A verified key is re-read after
``AUTHPULSE_API_KEY_CACHE_SECONDS`` (2), so a revocation takes effect within
that. Each key is rate-limited (429 + ``Retry-After``).
Triage writes need ``If-Match`` with the ETag of the alert's current triage
version (428 without, 412 when stale). The OpenAPI document is at
``/openapi.json`` (and ``/docs``); CORS is off unless origins are configured.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import logging
import threading
import time
from datetime import date, timedelta
from importlib.metadata import PackageNotFoundError, version as package_version
from typing import Annotated, Any, Callable

from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from authpulse_dagster.api import export as triage_export
from authpulse_dagster.api import keys as keymod
from authpulse_dagster.api.config import ApiSettings
from authpulse_dagster.api.errors import ApiError, install as install_errors
from authpulse_dagster.api.middleware import AccessLog, BodyLimit
from authpulse_dagster.api.models import (
    ALERT_ID_PATTERN, ENTITY_PATTERN, QUERY_NAME_PATTERN, AlertDetail, AlertEvent, AlertPage, AlertSummary, AuditEntry,
    Entity, EntityType, ErrorBody, Health, QueryInfo, QueryList, QueryParamInfo, QueryRequest, QueryResult, RiskDay, Severity,
    Status, Triage, TriagePatch, TriageResponse,
)
from authpulse_dagster.api.ratelimit import RateLimiter, retry_after
from authpulse_dagster.api.reads import AlertRow, DataNotReady, Lakehouse, NotFound
from authpulse_dagster.api.store import ApiKey, StaleWrite, Store, StoreUnavailable
from authpulse_dagster.api.triage import OPEN, TriageState, can_move
from authpulse_dagster.errors import ConfigError
from authpulse_dagster.queries.output import _json_value
from authpulse_dagster.settings import Settings

log = logging.getLogger("authpulse.api")
MAX_PAGE = 500
ENTITY_DAYS = 30


def _version() -> str:
    try:
        return package_version("authpulse")
    except PackageNotFoundError:
        return "0"


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "Bad request", 401: "Missing, unknown or revoked API key", 403: "The key's scope does not allow this",
        404: "Not found", 409: "Conflict (a refused status change, or data not built yet)", 412: "If-Match is stale",
        413: "Body too large", 415: "Body is not JSON", 422: "Invalid parameters or body", 428: "If-Match is required",
        429: "Rate limit: retry after Retry-After seconds", 503: "Triage store unavailable",
    }
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorBody, "description": text[code]}
        if code == 429:
            entry["headers"] = {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait"}}
        if code == 401:
            entry["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}
        out[code] = entry
    return out


READ_ERRORS = (400, 401, 403, 422, 429, 503)


class TriageCache:
    """Triage states for list views, at most ``seconds`` old; this process's own writes show at once."""

    def __init__(self, store: Store, seconds: float):
        self.store = store
        self.seconds = seconds
        self._states: dict[str, TriageState] = {}
        self._at = float("-inf")
        self._lock = threading.Lock()

    def states(self) -> dict[str, TriageState]:
        first = self._at == float("-inf")
        if time.monotonic() - self._at >= self.seconds and self._lock.acquire(blocking=first):
            if first:
                self._refresh_and_release()
            else:
                # Off the request's path, like the alerts cache.
                threading.Thread(target=self._refresh_and_release, daemon=True).start()
        return self._states

    @property
    def warm(self) -> bool:
        """Whether :meth:`states` answers from memory (it reads the store only the first time)."""
        return self._at != float("-inf")

    def _refresh_and_release(self) -> None:
        try:
            fresh = {s.alert_id: s for s in self.store.list_triage()}
            # A write of ours the index has not caught up with yet wins over the index.
            for alert_id, mine in self._states.items():
                if alert_id in fresh and fresh[alert_id].version < mine.version:
                    fresh[alert_id] = mine
            self._states, self._at = fresh, time.monotonic()
        except StoreUnavailable:
            if self._at == float("-inf"):
                raise
            log.warning("triage store unavailable; list views keep the last triage states")
        finally:
            self._lock.release()

    def put(self, state: TriageState) -> None:
        current = self._states.get(state.alert_id)
        if current is None or current.version < state.version:
            self._states = {**self._states, state.alert_id: state}


class KeyCache:
    """Stored keys by id, re-read after ``seconds`` (so a revocation takes effect within that), unknown ids always re-read."""

    def __init__(self, store: Store, seconds: float):
        self.store = store
        self.seconds = seconds
        self._keys: dict[str, tuple[ApiKey, float]] = {}

    def fresh(self, key_id: str) -> ApiKey | None:
        """The key from memory if it was read less than ``seconds`` ago, else None (then :meth:`get` reads the store)."""
        cached = self._keys.get(key_id)
        if cached is not None and time.monotonic() - cached[1] < self.seconds:
            return cached[0]
        return None

    def get(self, key_id: str) -> ApiKey | None:
        cached = self._keys.get(key_id)
        if cached is not None and time.monotonic() - cached[1] < self.seconds:
            return cached[0]
        key = self.store.get_key(key_id)
        if key is not None and self.seconds > 0:
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[key_id] = (key, time.monotonic())
        return key


def encode_cursor(row: AlertRow) -> str:
    return base64.urlsafe_b64encode(f"{row.event_date.isoformat()}|{row.alert_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        day, _, alert_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        return (-date.fromisoformat(day).toordinal(), alert_id)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ApiError(400, "cursor is not one this API returned; start again without it") from None


def summary(row: AlertRow, state: TriageState | None) -> AlertSummary:
    return AlertSummary(
        alert_id=row.alert_id, entity_type=row.entity_type, entity=row.entity, user_id=row.user_id, event_date=row.event_date,
        severity=row.severity, score=round(row.score, 2), reasons=list(row.reasons), high_risk_events=row.high_risk_events,
        first_event_ts=row.first_event_ts, last_event_ts=row.last_event_ts, created_at=row.created_at, updated_at=row.updated_at,
        status=state.status if state else OPEN, assignee=state.assignee if state else None,
    )


_ROW_JSON: dict[AlertRow, dict[str, Any]] = {}


def summary_json(row: AlertRow, state: TriageState | None) -> dict[str, Any]:
    """``summary(...)`` as plain JSON values; the alert's part is computed once per row object."""
    base = _ROW_JSON.get(row)
    if base is None:
        if len(_ROW_JSON) > 200_000:
            _ROW_JSON.clear()
        base = summary(row, None).model_dump(mode="json")
        _ROW_JSON[row] = base
    return {**base, "status": state.status if state else OPEN, "assignee": state.assignee if state else None}


def _risk_day(row: dict[str, Any]) -> RiskDay:
    return RiskDay(**{k: v for k, v in row.items() if k in RiskDay.model_fields and v is not None})


def _event(row: dict[str, Any]) -> AlertEvent:
    reasons = row.get("event_reasons") or ""
    return AlertEvent(
        event_id=row["event_id"], event_ts=row.get("event_ts"), computer_id=row.get("computer_id"),
        src_computer_id=row.get("src_computer_id"), score=row.get("event_score"),
        reasons=[r for r in reasons.split(", ") if r], auth_type=row.get("auth_type"), logon_type=row.get("logon_type"),
        orientation=row.get("orientation"), success=row.get("success"),
    )


def _triage(state: TriageState) -> Triage:
    return Triage(status=state.status, assignee=state.assignee, note=state.note, version=state.version,
                  updated_at=state.updated_at, updated_by=state.updated_by)


def create_app(
    settings: Settings,
    api: ApiSettings,
    store: Store,
    lakehouse: Lakehouse | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """The app over ``store`` (DynamoDB) and ``lakehouse`` (the Iceberg tables)."""
    lakehouse = lakehouse or Lakehouse(settings, cache_seconds=api.cache_seconds)
    limiter = RateLimiter(api.rate_per_second, api.burst, clock=clock)
    triage_cache = TriageCache(store, api.cache_seconds)
    key_cache = KeyCache(store, api.key_cache_seconds)
    export_lock = threading.Lock()
    bearer = HTTPBearer(auto_error=False, description="An API key from `authpulse api keys create`")

    documented_query: dict[tuple[str, str], frozenset[str]] = {}

    # The hot path (the auth dependency, the query check, the alert list) is async and answers from memory:
    # a sync handler or dependency costs a thread-pool hop each, which at 200 requests/s on two cores was
    # most of the latency. What may block (a key read from DynamoDB, the first load of a cache) runs in
    # the thread pool.
    async def known_query_params(request: Request) -> None:
        """Refuse query parameters the operation does not document (422).

        Why: a misspelt filter (``?severty=high``) silently ignored returns
        every alert, which a SOC tool would read as the filtered answer; the
        OpenAPI document is the contract, so any other name is an error.
        """
        route = request.scope.get("route")
        if route is None:
            return
        if not documented_query:
            for path, operations in app.openapi()["paths"].items():
                for method, operation in operations.items():
                    documented_query[(method.upper(), path)] = frozenset(
                        p["name"] for p in operation.get("parameters", []) if p.get("in") == "query")
        allowed = documented_query.get((request.method, route.path), frozenset())
        unknown = sorted({name for name in request.query_params.keys() if name not in allowed})
        if unknown:
            shown = ", ".join(repr(n[:40]) for n in unknown[:5])
            known = ", ".join(sorted(allowed)) or "none"
            raise ApiError(422, f"unknown query parameter(s) {shown}; this operation takes: {known}")

    app = FastAPI(
        title="AuthPulse SOC API",
        version=_version(),
        description="Alerts, entities and investigation queries over the AuthPulse lakehouse, with triage state.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        dependencies=[Depends(known_query_params)],
    )
    install_errors(app)

    def authenticated(needed: str) -> Callable[..., ApiKey]:
        async def dependency(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> ApiKey:
            challenge = {"WWW-Authenticate": "Bearer"}
            if credentials is None or credentials.scheme.lower() != "bearer":
                raise ApiError(401, "send an API key as `Authorization: Bearer <key>`", headers=challenge)
            parsed = keymod.parse(credentials.credentials)
            key = (key_cache.fresh(parsed[0]) or await run_in_threadpool(key_cache.get, parsed[0])) if parsed else None
            # One answer for unknown, wrong and revoked keys: a caller learns nothing about which.
            if key is None or not keymod.matches(key.hash, *parsed) or not key.active:  # type: ignore[misc]
                raise ApiError(401, "the API key is unknown or revoked", headers={**challenge, "WWW-Authenticate": 'Bearer error="invalid_token"'})
            request.state.key_name = key.name
            wait = limiter.acquire(key.key_id)
            if wait:
                raise ApiError(429, f"rate limit of {api.rate_per_second:g} requests/s for this key; retry later",
                               headers={"Retry-After": retry_after(wait)})
            if not keymod.allows(key.scope, needed):
                raise ApiError(403, f"this key's scope ({key.scope}) does not allow this; it needs a {needed} key")
            return key

        return dependency

    reader = Depends(authenticated(keymod.READ))
    triager = Depends(authenticated(keymod.TRIAGE))

    def lakehouse_call(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except NotFound as exc:
            raise ApiError(404, str(exc)) from None
        except DataNotReady as exc:
            raise ApiError(409, str(exc), code="data_not_ready") from None

    @app.exception_handler(StoreUnavailable)
    async def _store_down(request: Request, exc: StoreUnavailable):
        from fastapi.responses import JSONResponse

        from authpulse_dagster.api.errors import error_body, request_id

        log.error("triage store unavailable: %s", exc)
        return JSONResponse(error_body(503, "the triage store is unavailable; try again shortly", request_id(request)),
                            status_code=503, headers={"Retry-After": "5"})

    @app.get("/healthz", response_model=Health, tags=["health"], responses=_responses(422), summary="Liveness (no key needed)")
    def healthz() -> Health:
        return Health(status="ok", version=_version())

    @app.get("/v1/alerts", response_model=AlertPage, tags=["alerts"], responses=_responses(*READ_ERRORS, 409),
             summary="Alerts, newest day first, filtered, with cursor pagination")
    async def list_alerts(
        _: ApiKey = reader,
        since: Annotated[date | None, Query(description="First day (YYYY-MM-DD), inclusive")] = None,
        until: Annotated[date | None, Query(description="Last day (YYYY-MM-DD), inclusive")] = None,
        severity: Annotated[Severity | None, Query(description="Only this severity")] = None,
        status: Annotated[Status | None, Query(description="Only this triage status")] = None,
        entity_type: Annotated[EntityType | None, Query()] = None,
        entity: Annotated[str | None, Query(pattern=ENTITY_PATTERN, description="A user or host id, e.g. U12 or C17")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        cursor: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    ) -> AlertPage:
        if since and until and since > until:
            raise ApiError(400, "since is after until")
        rows = lakehouse_call(lakehouse.alerts) if lakehouse.warm else await run_in_threadpool(lakehouse_call, lakehouse.alerts)
        states = triage_cache.states() if triage_cache.warm else await run_in_threadpool(triage_cache.states)
        start = 0
        if cursor:
            start = bisect.bisect_right([r.sort_key for r in rows], decode_cursor(cursor)) if rows else 0
        items: list[dict[str, Any]] = []
        last: AlertRow | None = None
        more = False
        for row in rows[start:]:
            if since and row.event_date < since:
                break  # newest first: everything after is older still
            if (until and row.event_date > until) or (severity and row.severity != severity) \
                    or (entity_type and row.entity_type != entity_type) or (entity and row.entity != entity):
                continue
            state = states.get(row.alert_id)
            if status and (state.status if state else OPEN) != status:
                continue
            if len(items) == limit:
                more = True
                break
            items.append(summary_json(row, state))
            last = row
        # Serialized here, not through the response model: the list is the hot path (the rows' JSON is cached per row).
        body = {"items": items, "next_cursor": encode_cursor(last) if more and last else None}
        return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")

    def detail(alert_id: str, response: Response) -> AlertDetail:
        row: AlertRow = lakehouse_call(lambda: lakehouse.alert(alert_id))
        state = store.get_triage(alert_id)
        risk = lakehouse_call(lambda: lakehouse.risk_window(row))
        try:
            events = lakehouse.alert_events(alert_id)
        except DataNotReady:
            events = []  # the events' tables are not built (yet): the alert still shows
        history = store.audit(alert_id)
        response.headers["ETag"] = state.etag
        return AlertDetail(
            **summary(row, state).model_dump(),
            triage=_triage(state),
            risk=[_risk_day(r) for r in risk],
            events=[_event(e) for e in events],
            history=[AuditEntry(**{k: getattr(h, k) for k in AuditEntry.model_fields}) for h in history],
        )

    @app.get("/v1/alerts/{alert_id}", response_model=AlertDetail, tags=["alerts"], responses=_responses(*READ_ERRORS, 404, 409),
             summary="One alert: reasons, triage, the entity's risk over the decay window, top events, history")
    def get_alert(
        response: Response, alert_id: Annotated[str, Path(pattern=ALERT_ID_PATTERN)], _: ApiKey = reader
    ) -> AlertDetail:
        return detail(alert_id, response)

    @app.patch("/v1/alerts/{alert_id}", response_model=TriageResponse, tags=["alerts"],
               responses=_responses(*READ_ERRORS, 404, 409, 412, 413, 415, 428),
               summary="Triage an alert: status, assignee, note (If-Match required)")
    def patch_alert(
        request: Request,
        response: Response,
        body: TriagePatch,
        alert_id: Annotated[str, Path(pattern=ALERT_ID_PATTERN)],
        key: ApiKey = triager,
        if_match: Annotated[str | None, Header(max_length=200, description="The ETag from GET /v1/alerts/{alert_id}")] = None,
    ) -> TriageResponse:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in ("application/json", "application/merge-patch+json"):
            raise ApiError(415, "send the body as application/json")
        if not if_match:
            raise ApiError(428, "send If-Match with the ETag from GET /v1/alerts/{alert_id}")
        row: AlertRow = lakehouse_call(lambda: lakehouse.alert(alert_id))
        current = store.get_triage(alert_id)
        if if_match.strip() != current.etag:
            raise ApiError(412, "the alert's triage changed since that ETag; GET it again", headers={"ETag": current.etag})
        target = body.status or current.status
        if not can_move(current.status, target):
            raise ApiError(409, f"an alert cannot go from {current.status} to {target}", code="invalid_transition")
        fields = body.model_fields_set
        new = TriageState(
            alert_id=alert_id, status=target,
            assignee=body.assignee if "assignee" in fields else current.assignee,
            note=body.note if "note" in fields else current.note,
            entity_type=row.entity_type, entity=row.entity, event_date=row.event_date.isoformat(), reasons=row.reasons,
        )
        try:
            written = store.update_triage(current, new, by=key.name, note=body.note if "note" in fields else None)
        except StaleWrite as exc:
            raise ApiError(412, str(exc), headers={"ETag": store.get_triage(alert_id).etag}) from None
        triage_cache.put(written)
        log.info("triage %s: %s -> %s by %s (version %d)", alert_id, current.status, written.status, key.name, written.version)
        _export(written)
        response.headers["ETag"] = written.etag
        return TriageResponse(alert_id=alert_id, **_triage(written).model_dump())

    def _export(written: TriageState) -> None:
        # The change is committed either way; a failed export is retried by the next change or `authpulse api export`.
        try:
            with export_lock:
                triage_export.write(settings, triage_export.merged(store.list_triage(), [written]))
        except Exception:
            log.exception("triage export failed after a change to %s; run `authpulse api export`", written.alert_id)

    @app.get("/v1/entities/{entity_type}/{entity_id}", response_model=Entity, tags=["entities"],
             responses=_responses(*READ_ERRORS, 404, 409), summary="Daily risk and alerts of a user or a host")
    def get_entity(
        entity_type: EntityType,
        entity_id: Annotated[str, Path(pattern=ENTITY_PATTERN)],
        _: ApiKey = reader,
        since: Annotated[date | None, Query()] = None,
        until: Annotated[date | None, Query()] = None,
    ) -> Entity:
        if since and until and since > until:
            raise ApiError(400, "since is after until")
        last = until or lakehouse_call(lambda: lakehouse.latest_day(entity_type))
        if last is None:
            raise ApiError(404, f"no {entity_type} {entity_id!r}: nothing is scored yet")
        first = since or last - timedelta(days=ENTITY_DAYS - 1)
        if (last - first).days > 366:
            raise ApiError(400, "ask for at most 366 days at once")
        days = lakehouse_call(lambda: lakehouse.entity_days(entity_type, entity_id, first, last))
        states = triage_cache.states()
        alerts = [summary(r, states.get(r.alert_id)) for r in lakehouse_call(lakehouse.alerts)
                  if r.entity_type == entity_type and r.entity == entity_id and first <= r.event_date <= last]
        if not days and not alerts:
            raise ApiError(404, f"no {entity_type} {entity_id!r} between {first} and {last}")
        return Entity(entity_type=entity_type, entity=entity_id, since=first, until=last, days=[_risk_day(d) for d in days],
                      alerts=alerts)

    @app.get("/v1/queries", response_model=QueryList, tags=["queries"], responses=_responses(401, 403, 422, 429, 503),
             summary="The named investigation queries and their parameters")
    def list_named_queries(_: ApiKey = reader) -> QueryList:
        from authpulse_dagster.queries import list_queries

        return QueryList(queries=[
            QueryInfo(name=q.name, summary=q.summary, description=q.description, params=[
                QueryParamInfo(name=p.name, type=p.type, required=p.required, default=p.default_label if not p.required else None,
                               description=p.description, minimum=p.minimum, maximum=p.maximum,
                               choices=list(p.choices) or None)
                for p in q.params])
            for q in list_queries()
        ])

    @app.post("/v1/queries/{name}", response_model=QueryResult, tags=["queries"],
              responses=_responses(*READ_ERRORS, 404, 409, 413, 415), summary="Run a named query with validated parameters")
    def run_named_query(
        request: Request, body: QueryRequest, name: Annotated[str, Path(pattern=QUERY_NAME_PATTERN)], _: ApiKey = reader
    ) -> QueryResult:
        from authpulse_dagster.queries import load

        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise ApiError(415, "send the body as application/json")
        try:
            load(name)
        except ConfigError as exc:
            raise ApiError(404, str(exc)) from None
        limit = min(body.limit, api.query_row_limit)
        params = {k: str(v) for k, v in body.params.items()}
        try:
            table, truncated = lakehouse_call(lambda: lakehouse.run_query(name, params, limit))
        except ConfigError as exc:
            raise ApiError(400, str(exc).replace("--param ", "parameter ")) from None
        rows = [{k: _json_value(v) for k, v in r.items()} for r in table.to_pylist()]
        return QueryResult(query=name, columns=table.column_names, rows=rows, row_count=len(rows), truncated=truncated)

    app.add_middleware(BodyLimit, max_bytes=api.max_body_bytes)
    if api.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(api.cors_origins), allow_methods=["GET", "PATCH", "POST"],
                           allow_headers=["Authorization", "Content-Type", "If-Match"], expose_headers=["ETag", "Retry-After"])
    app.add_middleware(AccessLog)
    return app
