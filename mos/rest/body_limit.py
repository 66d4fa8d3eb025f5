"""Refuse oversize request bodies before anything parses them.

A pure ASGI middleware: a declared `Content-Length` over the limit is refused at once,
without reading a byte; otherwise the body is read (at most `max_body_bytes` + one chunk)
and only if it stays within the limit is it replayed to the application. So a chunked or
lying client cannot push more than the limit into JSON parsing, whatever the route.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mos.rest.problems import problem_response

_CLOSE = {"Connection": "close"}  # the rest of an oversize body is not worth reading


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        if max_body_bytes < 0:
            raise ValueError("max_body_bytes must be >= 0")
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            await problem_response(400, "invalid-content-length", "Content-Length is not a valid length",
                                   headers=_CLOSE)(scope, receive, send)
            return
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem_response(413, "content-too-large", f"the request body is over the limit of "
                               f"{self.max_body_bytes} bytes", headers=_CLOSE)(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as the server would

    return replay


def _content_length(scope: Scope) -> int | None:
    """The declared length; None if absent, -1 if malformed."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and text.isascii() else -1
    return None
