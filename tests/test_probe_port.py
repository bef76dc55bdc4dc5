"""The probe port (GUNICORN_PROBE_BIND) of gunicorn.conf.py, served by each worker."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest

from embedded_postgres.server import free_port
from testsupport.servers import ROOT, SECRET_KEY, Gunicorn, child_env

SLOW_CLIENTS = 16


@pytest.fixture(scope="module")
def app(throwaway_postgres):
    app = Gunicorn(
        {
            "DATABASE_URL": throwaway_postgres.create_database("probes"),
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "DJANGO_SECURE_SSL_REDIRECT": "false",
        }
    )
    yield app
    app.stop()


def probe(app, path="/health", method="GET"):
    status, body, _ = app.get(path, method=method, port=app.probe_port, timeout=5)
    return status, body


class TestContract:
    @pytest.mark.parametrize("path", ["/health", "/health/live"])
    def test_probes__answer_as_on_the_main_port(self, app, path):
        status, body = probe(app, path)
        main_status, main_body, _ = app.get(path)
        assert status == main_status == HTTPStatus.OK
        ours, theirs = json.loads(body), json.loads(main_body)
        assert ours.keys() == theirs.keys()
        assert ours["status"] == theirs["status"]

    @pytest.mark.parametrize("path", ["/", "/admin/", "/api/auth/csrf", "/health/"])
    def test_other_paths__404(self, app, path):
        assert probe(app, path) == (HTTPStatus.NOT_FOUND, '{"error": "not found"}')

    @pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
    def test_other_methods__405(self, app, method):
        status, _ = probe(app, method=method)
        assert status == HTTPStatus.METHOD_NOT_ALLOWED


class TestSlowClients:
    def test_partial_request_lines__do_not_hold_the_port(self, app, measure):
        """16 clients send half a request line, then nothing; probes still answer."""
        sockets = []
        for _ in range(SLOW_CLIENTS):
            sock = socket.create_connection(("127.0.0.1", app.probe_port))
            sock.sendall(b"GET /health HT")
            sockets.append(sock)
        try:
            with ThreadPoolExecutor(4) as pool:
                statuses = list(pool.map(lambda _: probe(app)[0], range(20)))
        finally:
            for sock in sockets:
                sock.close()
        assert statuses == [HTTPStatus.OK] * 20

    def test_a_silent_client__is_dropped_after_the_read_deadline(self, app):
        with socket.create_connection(("127.0.0.1", app.probe_port)) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\n")
            sock.settimeout(10)
            started = time.monotonic()
            assert sock.recv(100) == b""  # closed by the server, unanswered
            assert time.monotonic() - started < 9


class TestStartUp:
    def run_gunicorn(self, probe_bind):
        return subprocess.run(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
            cwd=ROOT,
            env=child_env(
                DATABASE_URL="postgresql://u:p@127.0.0.1:1/db",
                DJANGO_SECRET_KEY=SECRET_KEY,
                GUNICORN_BIND=f"127.0.0.1:{free_port()}",
                GUNICORN_PROBE_BIND=probe_bind,
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def test_port_in_use__one_line_error_naming_the_setting(self):
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            result = self.run_gunicorn(f"127.0.0.1:{port}")
        assert result.returncode != 0
        errors = [
            line
            for line in (result.stdout + result.stderr).splitlines()
            if "error" in line.lower() or "Traceback" in line
        ]
        assert errors == [
            f"Configuration error: GUNICORN_PROBE_BIND 127.0.0.1:{port} cannot be "
            "bound (Address already in use): is another program listening there?"
        ]

    def test_started_twice__says_it_is_already_serving(self, throwaway_postgres):
        first = Gunicorn(
            {
                "DATABASE_URL": throwaway_postgres.create_database("twice"),
                "DJANGO_SECRET_KEY": SECRET_KEY,
                "DJANGO_SECURE_SSL_REDIRECT": "false",
            }
        )
        try:
            second = subprocess.run(
                [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
                cwd=ROOT,
                env=child_env(
                    DATABASE_URL="postgresql://u:p@127.0.0.1:1/db",
                    DJANGO_SECRET_KEY=SECRET_KEY,
                    GUNICORN_BIND=f"127.0.0.1:{first.port}",
                    GUNICORN_PROBE_BIND=f"127.0.0.1:{first.probe_port}",
                ),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        finally:
            first.stop()
        assert second.returncode != 0
        assert second.stderr.strip().splitlines()[-1] == (
            f"Already serving: http://127.0.0.1:{first.port}/ and "
            f"127.0.0.1:{first.probe_port} are taken, most likely by this site "
            "started before (another make run?): stop it, or serve on other ports "
            "(make run PORT=8001)"
        )

    @pytest.mark.parametrize("value", ["127.0.0.1:http", "unix:/tmp/probes.sock"])
    def test_malformed__one_line_error(self, value):
        result = self.run_gunicorn(value)
        assert result.returncode != 0
        assert result.stderr.strip().splitlines()[-1] == (
            "Configuration error: GUNICORN_PROBE_BIND must be host:port"
        )


def test_main_port__still_serves_the_probes_for_nginx(app):
    assert app.get("/health")[0] == HTTPStatus.OK


def test_serving_on__is_printed_once_gunicorn_listens(throwaway_postgres):
    """A request sent the moment the line appears is answered, never refused."""
    port, probe_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
        cwd=ROOT,
        env=child_env(
            DATABASE_URL=throwaway_postgres.create_database("serving_on"),
            DJANGO_SECRET_KEY=SECRET_KEY,
            DJANGO_SECURE_SSL_REDIRECT="false",
            GUNICORN_BIND=f"127.0.0.1:{port}",
            GUNICORN_PROBE_BIND=f"127.0.0.1:{probe_port}",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        for line in process.stdout:
            if "Serving on" in line or time.monotonic() > deadline:
                break
        assert f"Serving on http://127.0.0.1:{port}/" in line, line
        # Answered, however long the workers take to boot on a busy machine.
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            conn.sendall(b"GET /health/live HTTP/1.0\r\nHost: x\r\n\r\n")
            assert conn.recv(64).startswith(b"HTTP/1.")
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.parametrize("asked", [False, True])
def test_control_socket__only_where_asked_for(throwaway_postgres, tmp_path, asked):
    """Off by default: gunicorn's own default path is shared by every checkout."""
    home, path = tmp_path / "home", tmp_path / "run" / "app.ctl"
    home.mkdir()
    path.parent.mkdir()
    server = Gunicorn(
        {
            "DATABASE_URL": throwaway_postgres.create_database(f"ctl_{int(asked)}"),
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "HOME": str(home),
            "XDG_RUNTIME_DIR": "",
            **({"GUNICORN_CONTROL_SOCKET": str(path)} if asked else {}),
        }
    )
    try:
        deadline = time.monotonic() + 5
        while asked and not path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert path.exists() is asked
        assert not (home / ".gunicorn").exists()
    finally:
        server.stop()
