"""Responses: strict JSON (no NaN or Infinity, ever) and stored gzip bodies sent as they are."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["StrictJSONResponse", "gzip_json_response"]


class StrictJSONResponse(JSONResponse):
    """JSON through orjson: NaN and infinity become ``null``, numpy values are encoded."""

    def render(self, content: Any) -> bytes:
        """Encode ``content`` as strict JSON."""
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


async def gzip_json_response(
    request: Request, body_gz: bytes, *, status_code: int = 200
) -> Response:
    """Send a stored gzip JSON body: as it is when the client accepts gzip, else inflated.

    Every HTTP client used with hummingbot-api (aiohttp, httpx, requests, browsers) sends
    ``Accept-Encoding: gzip``: for them the server does no work on the body at all. For the
    others the body is inflated in a thread, off the event loop.
    """
    if _accepts_gzip(request.headers.get("accept-encoding", "")):
        return Response(
            body_gz,
            status_code=status_code,
            media_type="application/json",
            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
    body = await run_in_threadpool(gzip.decompress, body_gz)
    return Response(body, status_code=status_code, media_type="application/json")


def _accepts_gzip(header: str) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (``gzip;q=0`` refuses it)."""
    for part in header.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            q = params.strip()
            return not (q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"))
    return False
