"""ASGI middleware: request ids and the access log, and the request size limit.

The access log has one JSON line per request: method, path, status,
milliseconds, the API key's *name* (set by the auth dependency; the key
itself never reaches a log) and the request id, which error bodies carry
too. Query strings are not logged: they may hold entity names an analyst
searched for, which belong in the audit trail only when they change state.

Bodies are read in full before the app sees them, up to the limit: a
``Content-Length`` over it, or a chunked body that grows past it, is a 413
and the app never runs.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any, Awaitable, Callable

from authpulse_dagster.api.errors import error_body

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("authpulse.api.access")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store")]


class AccessLog:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid.uuid4().hex[:16]
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        started = time.perf_counter()
        status = {"code": 500}

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = list(message.get("headers", [])) + _SECURITY_HEADERS + [(b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            access_log.info(json.dumps({
                "request_id": rid, "method": scope.get("method"), "path": scope.get("path"), "status": status["code"],
                "ms": round((time.perf_counter() - started) * 1000, 1), "key": state.get("key_name", "-"),
            }))


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await self._refuse(scope, send, 400, "Content-Length is not a number")
                return
            if too_big:
                await self._refuse(scope, send, 413, f"the request body is over {self.max_bytes} bytes")
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._refuse(scope, send, 413, f"the request body is over {self.max_bytes} bytes")
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
        rid = scope.get("state", {}).get("request_id", "-")
        payload = json.dumps(error_body(status, message, rid)).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
