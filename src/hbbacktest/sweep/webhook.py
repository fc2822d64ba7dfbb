"""Tell a webhook (Slack, Discord, anything that takes a JSON POST) how a sweep ended.

Bounded retries; a webhook that fails never fails the sweep: its error becomes a note.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

#: Tries, and the wait before each retry (seconds).
ATTEMPTS = 3
BACKOFF_S = (1.0, 3.0)
TIMEOUT_S = 10.0


def notify_webhook(
    url: str,
    payload: Mapping[str, Any],
    *,
    sleep: Callable[[float], None] = time.sleep,
    timeout_s: float = TIMEOUT_S,
) -> str | None:
    """POST ``payload`` as JSON to ``url``; retry 5xx, 429 and network errors.

    Args:
        url: an http(s) URL (validated by the spec).
        payload: the summary (JSON-able).
        sleep: how to wait between tries.
        timeout_s: per request.

    Returns:
        None when the webhook answered 2xx, else what went wrong (for a note). Never raises.
    """
    body = json.dumps(payload, sort_keys=True, default=str).encode()
    problem = ""
    for attempt in range(ATTEMPTS):
        request = urllib.request.Request(
            url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "hbbacktest"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as answer:
                if 200 <= answer.status < 300:
                    return None
                problem = f"HTTP {answer.status}"
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code} {exc.reason}"
            if exc.code < 500 and exc.code != 429:
                break  # the webhook refuses this request: asking again will not help
        except Exception as exc:  # never raises: a webhook cannot fail a sweep
            problem = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        if attempt + 1 < ATTEMPTS:
            sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
    return f"the webhook {_site(url)} was not told how the sweep ended ({problem})"


def _site(url: str) -> str:
    """Scheme and host only: a webhook's path is often its secret (Slack, Discord)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}/…"
