"""Errors → HTTP: the one place that maps hbbacktest's exception hierarchy to statuses.

Every answer is JSON ``{"detail": message, "error": kind}`` (hummingbot-api-client reads
``detail``). A 500 only ever means a bug: it carries an ``error_id`` that the server log prints
next to the traceback.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from hbbacktest.api.responses import StrictJSONResponse
from hbbacktest.core.errors import (
    BusyError,
    ConfigError,
    ControllerError,
    DataError,
    DataMissingError,
    ExchangeError,
    ExchangeTemporaryError,
    HbBacktestError,
    NotFoundError,
    OutputError,
    RunTimeoutError,
)
from hbbacktest.service.configs import (
    ConfigNameError,
    ConfigNotFoundError,
    ControllerNotFoundError,
)
from hbbacktest.service.tasks import TaskStateError

__all__ = ["COMMON_RESPONSES", "Problem", "install_error_handlers", "problem", "status_for"]

log = logging.getLogger("hbbacktest.api")


class Problem(BaseModel):
    """Every error answer: what went wrong (and how to fix it), and its kind."""

    detail: str | list[dict[str, Any]] = Field(
        description="The message; for a malformed body, a list of {loc, msg, type}."
    )
    error: str | None = Field(default=None, description="The error's kind (class name).")
    message: str | None = Field(default=None, description="A malformed body's problems, joined.")
    error_id: str | None = Field(default=None, description="A 500's id, also in the log.")


def problem(description: str) -> dict[str, Any]:
    """An OpenAPI response entry for an error status, with the :class:`Problem` body."""
    return {"model": Problem, "description": description}


#: Statuses any route may answer (declared on every router).
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: problem("Missing or wrong credentials (when the server has them)."),
    422: problem("Invalid input: the field path and what was expected."),
    500: problem("A bug (never bad input): the answer's error_id is in the server log."),
}


# Most specific first: the first class an error is an instance of decides.
_STATUSES: tuple[tuple[type[BaseException], int], ...] = (
    (ConfigNameError, 400),
    (ConfigNotFoundError, 404),
    (ControllerNotFoundError, 404),
    (NotFoundError, 404),
    (TaskStateError, 409),
    (ConfigError, 422),
    (ControllerError, 422),
    (DataMissingError, 409),
    (ExchangeTemporaryError, 503),
    (ExchangeError, 502),
    (DataError, 409),
    (BusyError, 429),
    (RunTimeoutError, 504),
    (OutputError, 503),
)


def status_for(exc: BaseException) -> int:
    """The HTTP status of an error (500 for anything not listed: a bug)."""
    for cls, status in _STATUSES:
        if isinstance(exc, cls):
            return status
    return 500


def error_response(exc: BaseException) -> Response:
    """The JSON answer for an error, logging a bug with an error id."""
    status = status_for(exc)
    headers: dict[str, str] = {}
    content: dict[str, Any] = {"detail": str(exc), "error": type(exc).__name__}
    if isinstance(exc, BusyError):
        headers["Retry-After"] = str(exc.retry_after_s)
    elif isinstance(exc, ExchangeTemporaryError):
        headers["Retry-After"] = "30"
    if status == 500:
        error_id = uuid.uuid4().hex[:12]
        log.error("error_id=%s %s: %s", error_id, type(exc).__name__, exc, exc_info=exc)
        content = {
            "detail": f"internal error {error_id}: a bug in hbbacktest, please report it "
            "with this id (the server log has the traceback)",
            "error": "InternalError",
            "error_id": error_id,
        }
    return StrictJSONResponse(content, status_code=status, headers=headers)


MAX_VALIDATION_ITEMS = 20


def _validation_items(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = exc.errors()
    items = []
    # The first problems, and how many more: a huge invalid body must not get a huge answer.
    for error in errors[:MAX_VALIDATION_ITEMS]:
        # The offending input is left out: it can be a whole (large, or secret) body.
        items.append(
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": str(error.get("msg", "invalid")),
                "type": str(error.get("type", "value_error")),
            }
        )
    if len(errors) > MAX_VALIDATION_ITEMS:
        more = len(errors) - MAX_VALIDATION_ITEMS
        items.append({"loc": [], "msg": f"… and {more} more problems", "type": "truncated"})
    return items


def install_error_handlers(app: FastAPI) -> None:
    """Map every error the app can meet to a JSON answer."""

    async def on_hb_error(request: Request, exc: Exception) -> Response:
        return error_response(exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        items = _validation_items(exc)
        summary = "; ".join(f"{'.'.join(i['loc'])}: {i['msg']}" for i in items)
        log.info("invalid request %s %s: %s", request.method, request.url.path, summary)
        return StrictJSONResponse(
            {"detail": items, "message": summary, "error": "RequestValidationError"},
            status_code=422,
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return StrictJSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    async def on_bug(request: Request, exc: Exception) -> Response:
        return error_response(exc)

    app.add_exception_handler(HbBacktestError, on_hb_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_bug)
