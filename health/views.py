"""The readiness (`/health`) and liveness (`/health/live`) probes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from http import HTTPStatus

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from health_check.exceptions import HealthCheckException

from health.checks import Database

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
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
        return _response(HTTPStatus.OK, status="healthy", database="connected")
    return _response(
        HTTPStatus.SERVICE_UNAVAILABLE,
        status="unhealthy",
        database="disconnected",
        error=error,
    )


@never_cache
@require_safe
def live(request: HttpRequest) -> JsonResponse:
    """Report that the process serves requests, without touching the database."""
    return _response(HTTPStatus.OK, status="alive")


def _response(code: HTTPStatus, **body: str) -> JsonResponse:
    body["timestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return JsonResponse(body, status=code)
