"""A WSGI app for tests/test_worker.py: a slow page, a busy answer, a quick one."""

import time


def application(environ, start_response):
    path = environ["PATH_INFO"]
    headers = [("Content-Length", "2")]
    if path == "/slow":
        time.sleep(float(environ.get("QUERY_STRING") or 2))
    if path == "/busy":
        start_response("503 Service Unavailable", [*headers, ("Retry-After", "1")])
    else:
        start_response("200 OK", headers)
    return [b"ok"]
