"""The readiness (`/health`) and liveness (`/health/live`) probes, ahead of Django.

Load balancers and orchestrators probe by IP address over plain HTTP, every few
seconds per instance, so the probes answer any Host header and skip the HTTPS
redirect, and Django's request handling (request object, signals, middleware), which
cost more than the probe itself. `config/wsgi.py` is the only way in.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus

from health_check.exceptions import HealthCheckException

from config.log import PROBE_ANSWERED
from health.checks import Database

logger = logging.getLogger(__name__)

Answer = tuple[HTTPStatus, dict[str, str]]
WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
SAFE_METHODS = frozenset({"GET", "HEAD"})


def readiness() -> Answer:
    """Report whether the database answers, within the check's deadline."""
    try:
        Database().run()
    except HealthCheckException as exc:
        error = exc.message
    except Exception:
        # A probe must answer 503, never 500, whatever goes wrong in it.
        logger.exception("unexpected error in the database health check")
        error = "unknown error"
    else:
        return _answer(HTTPStatus.OK, status="healthy", database="connected")
    return _answer(
        HTTPStatus.SERVICE_UNAVAILABLE,
        status="unhealthy",
        database="disconnected",
        error=error,
    )


def liveness() -> Answer:
    """Report that the process serves requests, without touching the database."""
    return _answer(HTTPStatus.OK, status="alive")


PROBES: dict[str, Callable[[], Answer]] = {
    "/health": readiness,
    "/health/live": liveness,
}


def serve_probes(app: WSGIApp) -> WSGIApp:
    """Wrap the WSGI `app`: answer the probes' paths here, pass every other on."""

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        probe = PROBES.get(environ.get("PATH_INFO", ""))
        if probe is None:
            return app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "")
        if method not in SAFE_METHODS:
            code, headers, body = render(
                (HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method not allowed"}),
                Allow=", ".join(sorted(SAFE_METHODS)),
            )
        else:
            code, headers, body = render(probe())
        environ[PROBE_ANSWERED] = True
        start_response(f"{code.value} {code.phrase}", headers)
        return [] if method == "HEAD" else [body]

    return application


def render(answer: Answer, **extra_headers: str) -> tuple[HTTPStatus, list, bytes]:
    """Return the status, headers and JSON body of a probe's answer."""
    code, body = answer
    payload = json.dumps(body).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(payload))),
        # A probe's answer is never to be cached.
        ("Cache-Control", "no-store"),
        *extra_headers.items(),
    ]
    return code, headers, payload


def _answer(code: HTTPStatus, **body: str) -> Answer:
    body["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return code, body
