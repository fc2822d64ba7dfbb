"""Observability: Prometheus metrics (one registry per app) and the request middleware.

The middleware gives every request an id (``X-Request-ID``, taken from the client when it sends
one), logs one line per request with its status and duration, times it into the latency
histogram, and turns an exception no handler took into the 500 answer of
:mod:`hbbacktest.api.errors` (so a bug is logged once, with its error id).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hbbacktest.api.errors import error_response
from hbbacktest.api.responses import StrictJSONResponse

__all__ = ["ApiMetrics", "RequestMiddleware"]

log = logging.getLogger("hbbacktest.api")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: The largest request body accepted (413 beyond): configs are kilobytes, and 64 MiB holds
#: ~300,000 executors for /performance/summarize. Bodies are parsed in the server process.
MAX_BODY_BYTES = 64 * 1024 * 1024
_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800)


class ApiMetrics:
    """The app's collectors; also the task runner's :class:`~hbbacktest.service.tasks.RunnerEvents`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "hbbacktest_http_request_duration_seconds",
            "HTTP request latency by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.started = Counter(
            "hbbacktest_backtests_started", "Backtests sent to a worker.", registry=self.registry
        )
        self.finished = Counter(
            "hbbacktest_backtests_finished",
            "Backtests ended, by outcome (completed, failed, timeout, cancelled).",
            ["status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "hbbacktest_backtest_duration_seconds",
            "Wall time of finished backtests in their worker.",
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.candle_cache = Counter(
            "hbbacktest_candle_cache",
            "Backtests whose candles were all cached (hit) or partly fetched (miss).",
            ["result"],
            registry=self.registry,
        )
        self.fetched_pages = Counter(
            "hbbacktest_candle_pages_fetched",
            "Candle pages fetched from exchanges by backtests.",
            registry=self.registry,
        )
        self.running = Gauge(
            "hbbacktest_backtests_running", "Backtests on a worker now.", registry=self.registry
        )
        self.queue_depth = Gauge(
            "hbbacktest_queue_depth", "Backtests waiting for a worker.", registry=self.registry
        )
        self.failed = self.finished.labels("failed")

    def backtest_started(self) -> None:
        """A job went to a worker."""
        self.started.inc()

    def backtest_finished(self, status: str, seconds: float, fetched_pages: int) -> None:
        """A job ended."""
        self.finished.labels(status).inc()
        if status in ("completed", "failed"):
            self.duration.observe(seconds)
            self.candle_cache.labels("miss" if fetched_pages else "hit").inc()
            self.fetched_pages.inc(fetched_pages)

    def render(self, *, running: int, queue_depth: int) -> bytes:
        """The text exposition, with the live gauges read now."""
        self.running.set(running)
        self.queue_depth.set(queue_depth)
        return generate_latest(self.registry)


class RequestMiddleware:
    """Request id, access log, latency histogram, and the last-resort 500 (pure ASGI)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        response_started = False
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            await _too_large(scope, receive, send)
            self.metrics.latency.labels(scope.get("method", ""), "unmatched", "413").observe(0)
            return
        received = 0
        if scope.get("method") not in _SAFE_METHODS and _header(scope, b"sec-fetch-site") in (
            "cross-site",
            "same-site",
        ):
            # A browser on another site posting with the user's cached Basic credentials (or
            # to an auth-less loopback server): refuse. API clients send no Sec-Fetch-Site.
            await _cross_site(scope, receive, send)
            return

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:  # a chunked body with no length said up front
                    raise _BodyTooLarge
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                    # No page of this server may be framed by another (the UI's form).
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                ]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except _BodyTooLarge:
            if response_started:
                raise
            await _too_large(scope, receive, send_wrapper)
        except Exception as exc:
            if response_started:
                raise
            await error_response(exc)(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - started
            route = _route(scope)
            self.metrics.latency.labels(scope.get("method", ""), route, str(status)).observe(
                seconds
            )
            log.info(
                "request_id=%s %s %s %d %.1f ms",
                request_id,
                scope.get("method", ""),
                scope.get("path", ""),
                status,
                seconds * 1000,
            )


_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


async def _cross_site(scope: Scope, receive: Receive, send: Send) -> None:
    response = StrictJSONResponse(
        {
            "detail": "cross-site requests that change state are refused (Sec-Fetch-Site); "
            "call the API from a client, or use the web UI on this server",
            "error": "CrossSiteRequest",
        },
        status_code=403,
    )
    await response(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = StrictJSONResponse(
        {
            "detail": f"the request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB",
            "error": "RequestTooLarge",
        },
        status_code=413,
    )
    await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _route(scope: Scope) -> str:
    # The route template, not the path: task ids must not explode the label set.
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
