"""Serve the probes ahead of host validation and the HTTPS redirect."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from health import views

PROBES = {"/health": views.health, "/health/live": views.live}


class ProbeMiddleware:
    """Answer `/health` and `/health/live` before any other middleware runs.

    Load balancers and orchestrators probe by IP address over plain HTTP, so the
    probes must not depend on `ALLOWED_HOSTS` or `SECURE_SSL_REDIRECT`; every other
    path still does. Skipping the rest of the stack also keeps a probe cheap.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        return probe(request)
