"""Errors as RFC 9457 problem details (`application/problem+json`).

Every error the API returns has the same shape: `type`, `title`, `status`, `detail` (and
`errors` for request validation). Each `MosError` subclass maps to one status; anything
else is an internal error whose body says only that — the exception is logged, never sent.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from mos.domain.errors import (
    AccessDenied,
    Conflict,
    GenerationFailed,
    InvalidInput,
    InvalidTransition,
    MosError,
    NotFound,
)
from mos.rest.auth import Unauthenticated

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)

# Most specific first: AlreadyExists is a Conflict, ArtifactMismatch is an InvalidInput.
_STATUS_OF: tuple[tuple[type[MosError], int, str], ...] = (
    (InvalidInput, 400, "invalid-input"),
    (NotFound, 404, "not-found"),
    (AccessDenied, 403, "access-denied"),
    (Conflict, 409, "conflict"),
    (InvalidTransition, 409, "invalid-transition"),
    (GenerationFailed, 502, "generation-failed"),
)
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large", 415: "Unsupported Media Type",
           422: "Unprocessable Content", 500: "Internal Server Error", 502: "Bad Gateway"}


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Where in the request, e.g. ['body', 'items', 0, 'text'].")
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(description="A URI reference naming the kind of problem, e.g. `urn:mos:problem:not-found`.")
    title: str = Field(description="Short summary of the kind of problem (the HTTP reason phrase).")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request.")
    errors: list[ValidationIssue] | None = Field(None, description="Request validation issues (422 only).")


def problem_response(status: int, kind: str, detail: str, *, errors: list[dict[str, Any]] | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": f"urn:mos:problem:{kind}", "title": _TITLES.get(status, "Error"),
                            "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_of(exc: MosError) -> tuple[int, str]:
    for error_type, status, kind in _STATUS_OF:
        if isinstance(exc, error_type):
            return status, kind
    return 400, "mos-error"


def unauthenticated(detail: str) -> JSONResponse:
    return problem_response(401, "unauthenticated", detail, headers={"WWW-Authenticate": "Bearer"})


def install_problem_handlers(app: FastAPI, allowed_methods: Callable[[str], list[str]]) -> None:
    """Route every error path of `app` through problem+json. `allowed_methods(path)` names
    every method served at a path, for the `Allow` header of a 405: Starlette's own names
    only the methods of the first route that matched, though GET and POST are two routes."""

    async def on_mos_error(request: Request, exc: MosError) -> JSONResponse:
        status, kind = status_of(exc)
        return problem_response(status, kind, str(exc))

    async def on_unauthenticated(request: Request, exc: Unauthenticated) -> JSONResponse:
        return unauthenticated(str(exc))

    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # The offending input is not echoed back: it may be large, or someone else's secret.
        issues = [{"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
                   "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))} for e in exc.errors()]
        return problem_response(422, "validation-error", "the request does not match the API schema",
                                errors=issues)

    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request.url.path))
        return problem_response(exc.status_code, "http-error", detail, headers=headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal-error", "an internal error occurred; it has been logged")

    app.add_exception_handler(MosError, on_mos_error)
    app.add_exception_handler(Unauthenticated, on_unauthenticated)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
