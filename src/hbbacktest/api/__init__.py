"""The HTTP API: hummingbot-api's backtesting endpoints, and hbbacktest's own.

``create_app(settings)`` builds the FastAPI app (FastAPI lives here and nowhere else); ``hbbacktest
serve`` runs it on uvicorn. Routes are thin: they parse, call :mod:`hbbacktest.service`, and
render. Backtests run in worker processes (:mod:`hbbacktest.service.tasks`), never on the event
loop.
"""

from hbbacktest.api.app import create_app

__all__ = ["create_app"]
