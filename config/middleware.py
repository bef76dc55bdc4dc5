"""Middleware of the whole site."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from accounts.hashers import HashingBusy

logger = logging.getLogger(__name__)


class UnavailableMiddleware:
    """Answer 503, not 500, when the database is away or password hashing is full.

    The pool raises OperationalError after its deadline when PostgreSQL is stopped,
    frozen or restarting; accounts.hashers raises HashingBusy when every hashing
    slot stayed taken. The client learns to retry, the log gets the detail.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if isinstance(exception, HashingBusy):
            logger.warning("password hashing saturated for %s", request.path)
        elif isinstance(exception, OperationalError | InterfaceError):
            logger.warning("database unavailable for %s: %s", request.path, exception)
        else:
            return None
        return HttpResponse(
            "Service temporarily unavailable: please try again shortly.\n",
            status=HTTPStatus.SERVICE_UNAVAILABLE,
            content_type="text/plain",
            headers={"Retry-After": "5"},
        )
