"""The probes' contract, in-process through the WSGI wrapper that gunicorn serves."""

import json
import re
import time
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import psycopg
import pytest
from django.core.wsgi import get_wsgi_application
from django.db import connection

from config.pool import category
from embedded_postgres.server import free_port
from health.checks import CoolOff, Database
from health.probes import serve_probes
from testsupport.wsgi import call

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(autouse=True)
def cool_off(monkeypatch):
    """Give each test a cool-off of its own: a failure must not outlive its test."""
    fresh = CoolOff(seconds=Database.cool_off.seconds)
    monkeypatch.setattr(Database, "cool_off", fresh)
    return fresh


@pytest.fixture
def application():
    """The stack of config/wsgi.py, built under the tests' settings."""
    return serve_probes(get_wsgi_application())


@pytest.fixture
def closed_port():
    """Point the app's database at a port nothing listens on; yield the real one."""
    saved = connection.settings_dict["PORT"]
    connection.close_pool()
    connection.settings_dict["PORT"] = free_port()
    yield saved
    connection.close_pool()
    connection.settings_dict["PORT"] = saved


def assert_fresh_timestamp(body):
    assert TIMESTAMP.match(body["timestamp"]), body
    stamp = datetime.fromisoformat(body["timestamp"])
    assert abs(stamp - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.django_db(transaction=True)
class TestHealth:
    def test_healthy__answers_200_with_the_contract(self, application):
        status, headers, body = call(application, "GET", "/health")
        assert status == HTTPStatus.OK
        assert headers["Content-Type"] == "application/json"
        assert headers["Cache-Control"] == "no-store"
        assert headers["Content-Length"] == str(len(body))
        body = json.loads(body)
        assert set(body) == {"status", "database", "timestamp"}
        assert (body["status"], body["database"]) == ("healthy", "connected")
        assert_fresh_timestamp(body)

    def test_trailing_slash__is_not_the_probe(self, application):
        status, _, _ = call(application, "GET", "/health/", host="localhost")
        assert status == HTTPStatus.NOT_FOUND

    @pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
    def test_other_methods__are_refused_by_the_wrapper(self, application, method):
        status, headers, body = call(application, method, "/health")
        assert status == HTTPStatus.METHOD_NOT_ALLOWED
        assert headers["Allow"] == "GET, HEAD"
        assert json.loads(body) == {"error": "method not allowed"}

    @pytest.mark.parametrize("path", ["/health", "/health/live"])
    def test_head__has_the_headers_and_no_body(self, application, path):
        status, headers, body = call(application, "HEAD", path)
        assert status == HTTPStatus.OK
        assert headers["Content-Type"] == "application/json"
        assert body == b""

    def test_warm_pool__opens_no_new_connection(self, application):
        pool = connection.pool
        call(application, "GET", "/health")
        pool.wait(timeout=10)  # min_size connections are open
        opened = pool.get_stats().get("connections_num", 0)
        backends = _backend_pids()
        for _ in range(20):
            assert call(application, "GET", "/health")[0] == HTTPStatus.OK
        assert pool.get_stats().get("connections_num", 0) == opened
        assert _backend_pids() == backends


class TestUnhealthy:
    def test_closed_port__answers_503_with_the_contract(self, application, closed_port):
        status, headers, body = call(application, "GET", "/health")
        assert status == HTTPStatus.SERVICE_UNAVAILABLE
        assert headers["Cache-Control"] == "no-store"
        body = json.loads(body)
        assert set(body) == {"status", "database", "error", "timestamp"}
        assert (body["status"], body["database"], body["error"]) == (
            "unhealthy",
            "disconnected",
            "connection refused",
        )
        assert_fresh_timestamp(body)

    def test_unexpected_error__answers_503_unknown_error(
        self, application, monkeypatch
    ):
        def broken(self):
            raise RuntimeError("a bug in the check")

        monkeypatch.setattr(Database, "run", broken)
        status, _, body = call(application, "GET", "/health")
        assert status == HTTPStatus.SERVICE_UNAVAILABLE
        assert json.loads(body)["error"] == "unknown error"


class TestCoolOff:
    @pytest.mark.django_db(transaction=True)
    def test_any_failure__is_repeated_without_a_new_attempt(
        self, application, closed_port
    ):
        assert json.loads(call(application, "GET", "/health")[2])["error"] == (
            "connection refused"
        )
        # The database answers again, but within the cool-off nobody asks it.
        connection.close_pool()
        connection.settings_dict["PORT"] = closed_port
        status, _, body = call(application, "GET", "/health")
        assert status == HTTPStatus.SERVICE_UNAVAILABLE
        assert json.loads(body)["error"] == "connection refused"

    def test_reason__is_repeated_until_the_time_is_up(self):
        cool_off = CoolOff(seconds=0.2)
        assert cool_off.reason == ""
        cool_off.start("timeout")
        assert cool_off.reason == "timeout"
        time.sleep(0.25)
        assert cool_off.reason == ""

    @pytest.mark.django_db(transaction=True)
    def test_active__answers_its_reason_without_the_database(
        self, application, cool_off
    ):
        pool = connection.pool
        pool.open()
        requests = pool.get_stats().get("requests_num", 0)
        cool_off.start("timeout")
        status, _, body = call(application, "GET", "/health")
        assert status == HTTPStatus.SERVICE_UNAVAILABLE
        assert json.loads(body)["error"] == "timeout"
        assert pool.get_stats().get("requests_num", 0) == requests


@pytest.mark.django_db(transaction=True)
class TestLive:
    def test_answers_200_without_the_database(self, application):
        pool = connection.pool
        pool.open()
        requests = pool.get_stats().get("requests_num", 0)
        status, _, body = call(application, "GET", "/health/live")
        # Every query, Django's or the probe's, takes a connection from the pool.
        assert pool.get_stats().get("requests_num", 0) == requests
        assert status == HTTPStatus.OK
        body = json.loads(body)
        assert body["status"] == "alive"
        assert_fresh_timestamp(body)


@pytest.mark.django_db(transaction=True)
class TestProbesBypassHostAndHttpsChecks:
    @pytest.fixture(autouse=True)
    def production_like(self, settings):
        settings.ALLOWED_HOSTS = ["platform.example.edu"]
        settings.SECURE_SSL_REDIRECT = True

    @pytest.mark.parametrize("path", ["/health", "/health/live"])
    def test_probe__answers_any_host_over_plain_http(self, application, path):
        assert call(application, "GET", path)[0] == HTTPStatus.OK

    def test_other_paths__keep_host_validation(self, application):
        status, _, _ = call(application, "GET", "/admin/login/", host="10.0.3.17")
        assert status == HTTPStatus.BAD_REQUEST

    def test_other_paths__keep_the_https_redirect(self, application):
        status, headers, _ = call(
            application, "GET", "/admin/login/", host="platform.example.edu"
        )
        assert status == HTTPStatus.MOVED_PERMANENTLY
        assert headers["Location"].startswith("https://")


class TestCategory:
    @pytest.mark.parametrize(
        ("message", "expected"),
        [
            (
                'connection to server at "db.internal" (10.0.0.5), port 5432 '
                "failed: Connection refused",
                "connection refused",
            ),
            (
                'connection to server at "db" failed: FATAL:  password '
                'authentication failed for user "counseling"',
                "authentication failed",
            ),
            ('FATAL:  database "platform" does not exist', "database not found"),
            ("sorry, too many clients already", "too many connections"),
            ('could not translate host name "db" to address', "host not found"),
            ("something else entirely", "database error"),
        ],
    )
    def test_names_a_category_without_details(self, message, expected):
        assert category(psycopg.OperationalError(message)) == expected

    def test_timeout(self):
        assert category(psycopg.errors.ConnectionTimeout("x")) == "timeout"


def _backend_pids():
    """Return the pids of the server processes serving the test database."""
    # A connection of its own, outside the pool under test.
    with psycopg.connect(**connection.get_connection_params()) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    return {pid for (pid,) in rows}
