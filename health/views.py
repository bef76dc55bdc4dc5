"""The readiness (`/health`) and liveness (`/health/live`) probes.

Each probe is a function returning a status and a JSON body; `health.middleware`
serves them through Django, and `health.wsgi` ahead of it under gunicorn.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe
from health_check.exceptions import HealthCheckException

from health.checks import Database

logger = logging.getLogger(__name__)

Answer = tuple[HTTPStatus, dict[str, str]]
# A probe's answer is never to be cached.
HEADERS = {"Cache-Control": "no-store"}


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


@require_safe
def probe(request: HttpRequest) -> JsonResponse:
    code, body = PROBES[request.path_info]()
    return JsonResponse(body, status=code, headers=HEADERS)


def _answer(code: HTTPStatus, **body: str) -> Answer:
    body["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return code, body
