"""Middleware for availability: the probes, and a 503 when the database is away."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from health import views

logger = logging.getLogger(__name__)


class ProbeMiddleware:
    """Answer `/health` and `/health/live` before any other middleware runs.

    Load balancers and orchestrators probe by IP address over plain HTTP, so the
    probes must not depend on `ALLOWED_HOSTS` or `SECURE_SSL_REDIRECT`; every other
    path still does. Skipping the rest of the stack also keeps a probe cheap.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info not in views.PROBES:
            return self.get_response(request)
        return views.probe(request)


class DatabaseUnavailableMiddleware:
    """Answer 503, not 500, when a request fails because the database is away.

    The pool raises OperationalError after its deadline when PostgreSQL is stopped,
    frozen or restarting; the client learns to retry, the log gets the detail.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable for %s: %s", request.path, exception)
        return HttpResponse(
            "Service temporarily unavailable: please try again shortly.\n",
            status=HTTPStatus.SERVICE_UNAVAILABLE,
            content_type="text/plain",
            headers={"Retry-After": "5"},
        )
