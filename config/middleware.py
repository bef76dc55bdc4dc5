"""Middleware of the whole site."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

from django.db import InterfaceError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)


class ServiceBusy(Exception):
    """A resource of this process (such as password hashing) is full: retry soon.

    Apps raise a subclass; the API and UnavailableMiddleware answer it with 503.
    """

    message = "service busy: try again shortly"
    retry_after = 1


# Methods that change nothing, and the sign-ins, which hash a password (0.1 to
# 0.3 s) between their writes: a transaction open meanwhile would hold its
# pooled connection (PgBouncer's server connection) idle, and each of their
# writes (the failure counted, the session) stands on its own.
READS = ("GET", "HEAD", "OPTIONS")
SIGN_IN_PATHS = ("/api/auth/login", "/admin/login/")


def in_transaction(request: HttpRequest) -> bool:
    """Whether TransactionPerChangeMiddleware runs this request in a transaction."""
    return request.method not in READS and request.path not in SIGN_IN_PATHS


class TransactionPerChangeMiddleware:
    """Run each request that may change something in one transaction: its writes
    land together or not at all, and what runs inside it may set
    transaction-local context first (audit.events.AuditContextMiddleware tells
    the audit triggers who and where). Reads need none.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not in_transaction(request):
            return self.get_response(request)
        with transaction.atomic():
            return self.get_response(request)


class UnavailableMiddleware:
    """Answer 503, not 500, when the database is away or a resource is full.

    The pool raises OperationalError after its deadline when PostgreSQL is stopped,
    frozen or restarting; a full resource raises ServiceBusy. The client learns to
    retry, the log gets the detail.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if isinstance(exception, ServiceBusy):
            logger.warning("%s for %s", exception.message, request.path)
            retry_after = exception.retry_after
        elif isinstance(exception, OperationalError | InterfaceError):
            logger.warning("database unavailable for %s: %s", request.path, exception)
            retry_after = 5
        else:
            return None
        return HttpResponse(
            "Service temporarily unavailable: please try again shortly.\n",
            status=HTTPStatus.SERVICE_UNAVAILABLE,
            content_type="text/plain",
            headers={"Retry-After": str(retry_after)},
        )


class NoStoreApiMiddleware:
    """Mark every answer under /api/ as never to be stored: they are personal."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path_info.startswith("/api/"):
            add_never_cache_headers(response)
        return response


class ApiErrorsMiddleware:
    """Answer every error under /api/ in the API's shape, whoever raised it.

    Django's own 404, 405, 400 (a malformed multipart body) and this module's
    503 are HTML or text; a client of the API gets `{"error": ...}` instead,
    with the same status and Allow or Retry-After.
    """

    KEPT = ("Allow", "Retry-After")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        kind = response.get("Content-Type", "")
        if (
            request.path_info.startswith("/api/")
            and response.status_code >= HTTPStatus.BAD_REQUEST
            and not kind.startswith("application/json")
        ):
            answer = JsonResponse(
                {"error": response.reason_phrase.lower()}, status=response.status_code
            )
            for header in self.KEPT:
                if header in response:
                    answer[header] = response[header]
            return answer
        return response
