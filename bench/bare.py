"""The HTTP ceiling: a WSGI app with a fixed JSON body, no Django, no database."""

BODY = (
    b'{"status": "healthy", "database": "connected", '
    b'"timestamp": "2025-12-20T12:34:56Z"}'
)
HEADERS = [
    ("Content-Type", "application/json"),
    ("Content-Length", str(len(BODY))),
    ("Cache-Control", "no-store"),
]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
