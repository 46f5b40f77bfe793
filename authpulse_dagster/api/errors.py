"""Error responses: one shape, one clear message, nothing internal.

Every error body is ``{"error": {"code": ..., "message": ..., "request_id": ...}}``
(validation errors add ``details``: where and what, never the offending
input echoed back at length). Unexpected exceptions are logged with their
traceback under the request id and reach the client as a bare 500 with that
id: no stack trace, no file path, no SQL.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("authpulse.api")

_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 409: "conflict", 412: "precondition_failed", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "invalid_request", 428: "precondition_required", 429: "rate_limited", 500: "internal_error", 503: "unavailable",
}


class ApiError(Exception):
    """An error the client caused or should know about, with its status and headers."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "error")
        self.headers = headers or {}


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "-")


def error_body(status: int, message: str, rid: str, code: str | None = None, details: list[dict[str, Any]] | None = None) -> dict:
    error: dict[str, Any] = {"code": code or _CODES.get(status, "error"), "message": message, "request_id": rid}
    if details:
        error["details"] = details
    return {"error": error}


def _where(loc: Any) -> str:
    return ".".join(str(p) for p in loc if p not in ("body",)) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.status, exc.message, request_id(request), exc.code), status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if request.method in ("POST", "PATCH") and not content_type.endswith("json") and any(
                tuple(e.get("loc", ())) == ("body",) for e in errors):
            return JSONResponse(error_body(415, "send the body as application/json", request_id(request)), status_code=415)
        if any(e.get("type") == "json_invalid" for e in errors):
            where = next(e.get("loc", ()) for e in errors if e.get("type") == "json_invalid")
            at = f" (near character {where[1]})" if len(where) > 1 else ""
            message = f"the request body is not valid JSON{at}"
            return JSONResponse(error_body(422, message, request_id(request)), status_code=422)
        details = [{"where": _where(e.get("loc", ())), "problem": str(e.get("msg", "invalid"))[:200]} for e in errors[:20]]
        message = "; ".join(f"{d['where']}: {d['problem']}" for d in details[:3])
        return JSONResponse(error_body(422, message, request_id(request), details=details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = {404: "no such resource", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
        return JSONResponse(error_body(exc.status_code, message, request_id(request)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        rid = request_id(request)
        log.error("unhandled error in request %s", rid, exc_info=exc)
        return JSONResponse(error_body(500, "internal error; the server logged it under this request id", rid), status_code=500)
