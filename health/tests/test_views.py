"""The probes' contract, in-process against the test database."""

import json
import re
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import psycopg
import pytest
from django.db import connection

from health.checks import category

pytestmark = pytest.mark.django_db(transaction=True)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def assert_fresh_timestamp(body):
    assert TIMESTAMP.match(body["timestamp"]), body
    stamp = datetime.fromisoformat(body["timestamp"])
    assert abs(stamp - datetime.now(UTC)) < timedelta(seconds=5)


class TestHealth:
    def test_healthy__answers_200_with_the_contract(self, client):
        response = client.get("/health")
        assert response.status_code == HTTPStatus.OK
        assert response["Content-Type"] == "application/json"
        assert "no-store" in response["Cache-Control"]
        body = json.loads(response.content)
        assert set(body) == {"status", "database", "timestamp"}
        assert (body["status"], body["database"]) == ("healthy", "connected")
        assert_fresh_timestamp(body)

    def test_trailing_slash__is_not_the_probe(self, client):
        assert client.get("/health/").status_code == HTTPStatus.NOT_FOUND

    @pytest.mark.parametrize("method", ["post", "put", "delete"])
    def test_other_methods__are_refused(self, client, method):
        response = getattr(client, method)("/health")
        assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED

    def test_head__is_allowed(self, client):
        assert client.head("/health").status_code == HTTPStatus.OK

    def test_warm_pool__opens_no_new_connection(self, client):
        pool = connection.pool
        client.get("/health")
        pool.wait(timeout=10)  # min_size connections are open
        opened = pool.get_stats().get("connections_num", 0)
        backends = _backend_pids()
        for _ in range(20):
            assert client.get("/health").status_code == HTTPStatus.OK
        assert pool.get_stats().get("connections_num", 0) == opened
        assert _backend_pids() == backends


class TestLive:
    def test_answers_200_without_the_database(self, client):
        pool = connection.pool
        pool.open()
        requests = pool.get_stats().get("requests_num", 0)
        response = client.get("/health/live")
        # Every query, Django's or the probe's, takes a connection from the pool.
        assert pool.get_stats().get("requests_num", 0) == requests
        assert response.status_code == HTTPStatus.OK
        body = json.loads(response.content)
        assert body["status"] == "alive"
        assert_fresh_timestamp(body)


class TestProbesBypassHostAndHttpsChecks:
    @pytest.fixture(autouse=True)
    def production_like(self, settings):
        settings.ALLOWED_HOSTS = ["platform.example.edu"]
        settings.SECURE_SSL_REDIRECT = True

    @pytest.mark.parametrize("path", ["/health", "/health/live"])
    def test_probe__answers_any_host_over_plain_http(self, client, path):
        response = client.get(path, headers={"host": "10.0.3.17:8000"})
        assert response.status_code == HTTPStatus.OK

    def test_other_paths__keep_host_validation(self, client):
        response = client.get(
            "/admin/login/", headers={"host": "10.0.3.17"}, secure=True
        )
        assert response.status_code == HTTPStatus.BAD_REQUEST

    def test_other_paths__keep_the_https_redirect(self, client):
        response = client.get("/admin/login/", headers={"host": "platform.example.edu"})
        assert response.status_code == HTTPStatus.MOVED_PERMANENTLY
        assert response["Location"].startswith("https://")


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
