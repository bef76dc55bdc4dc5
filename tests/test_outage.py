"""/health and the app under gunicorn while a real PostgreSQL 16 stops, freezes and
comes back (the architecture's manual integration test, automated)."""

from __future__ import annotations

import http.client
import json
import re
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import psycopg
import pytest

from testsupport.servers import (
    freeze,
    seconds_until_healthy,
    serve_with_admin,
    slowest,
    thaw,
)

PROBES = 16  # concurrent probes: 4 times what 2 workers x 2 threads serve at once
PASSWORD = "outage-test-pass-1"


@pytest.fixture(scope="module")
def app(throwaway_postgres, collected_static):
    app = serve_with_admin(throwaway_postgres, "outage", PASSWORD)
    yield app
    app.stop()


@pytest.fixture(scope="module")
def session_cookie(app):
    """Log in to the admin; return the Cookie header of the session."""
    page = _request(app, "GET", "/admin/login/")
    csrf = _cookies(page)["csrftoken"]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    login = _request(
        app,
        "POST",
        "/admin/login/?next=/admin/",
        body=urlencode(
            {
                "csrfmiddlewaretoken": token.group(1),
                "username": "\\corp\\admin",
                "password": PASSWORD,
            }
        ),
        headers={
            "Cookie": f"csrftoken={csrf}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert login.status == HTTPStatus.FOUND, login.text
    return {"Cookie": f"sessionid={_cookies(login)['sessionid']}"}


def test_healthy__200(app):
    status, body, _ = app.get("/health")
    assert status == HTTPStatus.OK
    assert json.loads(body)["status"] == "healthy"


def test_stopped__503_within_1s_then_200_within_2s_of_restart(
    app, throwaway_postgres, session_cookie, measure
):
    server = throwaway_postgres
    assert app.get("/admin/", headers=session_cookie)[0] == HTTPStatus.OK
    server.stop()
    try:
        sequential = [app.get("/health", timeout=5) for _ in range(5)]
        concurrent = probe_concurrently(app)
        live = app.get("/health/live")
        page = app.get("/admin/", headers=session_cookie, timeout=10)
    finally:
        server.start()
    assert_unavailable(sequential + concurrent, "connection refused", server)
    worst = slowest(sequential + concurrent)
    assert worst < 1.0
    assert live[0] == HTTPStatus.OK
    # The app's pages: a 503 after the pool's 3 s wait, not a 500 or a hang.
    assert page[0] == HTTPStatus.SERVICE_UNAVAILABLE, page
    assert page[2] < 5.0
    measure(f"stopped: 503 in at most {worst * 1000:.0f} ms ({PROBES} concurrent)")
    measure(f"stopped: an admin page answered 503 after {page[2] * 1000:.0f} ms")
    waited = seconds_until_healthy(app)
    assert waited < 2.0
    measure(f"restarted: 200 after {waited * 1000:.0f} ms")

    # The app's own requests: stale pooled connections fail their check and are
    # replaced, so at most a few requests fail, and none hangs.
    results = [
        app.get("/admin/", headers=session_cookie, timeout=10) for _ in range(20)
    ]
    failures = [r for r in results if r[0] != HTTPStatus.OK]
    assert len(failures) <= 2, failures
    assert HTTPStatus.INTERNAL_SERVER_ERROR not in {r[0] for r in results}
    measure(f"restarted: {len(failures)} of 20 app requests failed")


def test_frozen__503_within_3s_for_concurrent_probes(app, throwaway_postgres, measure):
    server = throwaway_postgres
    assert app.get("/health")[0] == HTTPStatus.OK
    freeze(server)
    try:
        first = probe_concurrently(app)
        again = probe_concurrently(app)
        live = app.get("/health/live", timeout=5)
    finally:
        thaw(server)
    assert_unavailable(first + again, "timeout", server)
    worst = slowest(first + again)
    assert worst < 3.0
    assert live[0] == HTTPStatus.OK
    measure(f"frozen: 503 in at most {worst * 1000:.0f} ms ({PROBES} concurrent)")
    waited = seconds_until_healthy(app)
    assert waited < 2.0
    measure(f"thawed: 200 after {waited * 1000:.0f} ms")


def test_after_outages__connections_stay_bounded(app, throwaway_postgres):
    """Hung probes leaked no server connections: at most the pools' maximum."""
    with psycopg.connect(throwaway_postgres.url("outage")) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'outage'"
        ).fetchone()
    assert count <= 2 * 15 + 1


def assert_unavailable(answers, error, server):
    """Check that every answer is a secret-free 503 naming `error`."""
    for status, body, _ in answers:
        assert status == HTTPStatus.SERVICE_UNAVAILABLE, body
        assert json.loads(body)["error"] == error
        assert_no_secret(body, server)


def probe_concurrently(app):
    with ThreadPoolExecutor(PROBES) as pool:
        return list(pool.map(lambda _: app.get("/health", timeout=10), range(PROBES)))


def assert_no_secret(body, server):
    for secret in (server.password, "counseling", "127.0.0.1", str(server.port)):
        assert secret not in body


def _request(app, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.text = response.read().decode()
        return response
    finally:
        conn.close()


def _cookies(response):
    cookies = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    return {key: morsel.value for key, morsel in cookies.items()}
