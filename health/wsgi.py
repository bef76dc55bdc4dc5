"""Serve the probes ahead of Django's request handling under gunicorn.

Django's handler (request object, request signals, middleware chain) cost more than
the probe itself; load balancers call /health every few seconds per instance (#6).
Other methods than GET and HEAD go on to Django, which answers 405.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from health.views import HEADERS, PROBES

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def serve_probes(app: WSGIApp) -> WSGIApp:
    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        probe = PROBES.get(environ.get("PATH_INFO", ""))
        method = environ.get("REQUEST_METHOD")
        if probe is None or method not in {"GET", "HEAD"}:
            return app(environ, start_response)
        code, body = probe()
        payload = json.dumps(body).encode()
        start_response(
            f"{code.value} {code.phrase}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
                *HEADERS.items(),
            ],
        )
        return [payload] if method == "GET" else []

    return application
