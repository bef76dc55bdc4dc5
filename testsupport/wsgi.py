"""A WSGI application called as a server would, without one."""

from __future__ import annotations

import io


def call(application, method, path, host="10.0.3.17:8000", **extra):
    """Return the status, headers and body the wrapper answers.

    `extra` adds to or replaces the WSGI environ's entries.
    """
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "10.0.3.17",
        "SERVER_PORT": "8000",
        "HTTP_HOST": host,
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        **extra,
    }
    started = {}

    def start_response(status, headers):
        started["status"] = int(status.split()[0])
        started["headers"] = dict(headers)

    body = b"".join(application(environ, start_response))
    return started["status"], started["headers"], body
