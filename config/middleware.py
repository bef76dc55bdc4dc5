"""Middleware of the whole site."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)


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
