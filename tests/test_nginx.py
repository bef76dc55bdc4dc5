"""docker/nginx in front of gunicorn, with Debian's nginx: slow clients, limits, IPs."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import string
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from pathlib import Path

import psycopg
import pytest

from embedded_postgres.server import free_port
from tests.support import ROOT, serve_with_admin

pytestmark = pytest.mark.nginx
TEMPLATE = ROOT / "docker" / "nginx" / "templates" / "default.conf.template"
PASSWORD = "nginx-test-pass-1"


@pytest.fixture(scope="module")
def app(throwaway_postgres, collected_static):
    app = serve_with_admin(
        throwaway_postgres, "nginx", PASSWORD, DJANGO_TRUSTED_PROXIES="127.0.0.1"
    )
    yield app, throwaway_postgres.url("nginx")
    app.stop()


@pytest.fixture(scope="module")
def proxy(app):
    """Debian's nginx serving the repository's template in front of gunicorn."""
    gunicorn, _ = app
    prefix = Path(tempfile.mkdtemp(prefix="nginx-"))
    prefix.chmod(0o755)
    port = free_port()
    # As the image's envsubst: only these two; nginx's own $variables stay.
    site = string.Template(TEMPLATE.read_text()).safe_substitute(
        APP_UPSTREAM=f"127.0.0.1:{gunicorn.port}", NGINX_LISTEN=f"127.0.0.1:{port}"
    )
    (prefix / "site.conf").write_text(site)
    (prefix / "nginx.conf").write_text(
        f"""
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/site.conf;
}}
"""
    )
    process = subprocess.Popen(
        [
            shutil.which("nginx"),
            "-p",
            str(prefix),
            "-c",
            str(prefix / "nginx.conf"),
            "-e",
            str(prefix / "error.log"),
            "-g",
            "daemon off;",
        ],
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if get(port, "/health/live")[0] == HTTPStatus.OK:
                break
        except OSError:
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(prefix, ignore_errors=True)


def get(port, path, method="GET", body=None, headers=None, source="127.0.0.1"):
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0)
    )
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        text = response.read().decode()
        return response.status, text, time.monotonic() - started, response
    finally:
        conn.close()


def test_probes__pass_through(proxy):
    status, body, _, _ = get(proxy, "/health")
    assert status == HTTPStatus.OK
    assert json.loads(body)["status"] == "healthy"


def test_slowloris__does_not_delay_probes_or_the_admin(proxy, app, measure):
    """20 clients sending headers a byte a second; gunicorn has 4 threads."""
    stop = threading.Event()

    def slow_client():
        with socket.create_connection(("127.0.0.1", proxy)) as sock:
            for byte in b"GET /admin/login/ HTTP/1.1\r\nHost: x\r\nX-Slow: yes\r\n":
                if stop.is_set():
                    return
                sock.sendall(bytes([byte]))
                time.sleep(1)

    threads = [threading.Thread(target=slow_client, daemon=True) for _ in range(20)]
    for thread in threads:
        thread.start()
    time.sleep(2)  # every slow client is connected and sending
    try:
        answers = [
            get(proxy, path) for _ in range(5) for path in ("/health", "/admin/login/")
        ]
    finally:
        stop.set()
    assert [a[0] for a in answers] == [HTTPStatus.OK] * 10
    slowest = max(a[2] for a in answers)
    measure(f"nginx: slowest answer during slowloris {slowest * 1000:.0f} ms")
    assert slowest < 2.0


def test_limit_req__answers_429_on_sign_in(proxy):
    body = json.dumps({"username": "\\uni\\nobody", "password": "x"})

    def post(_):
        return get(
            proxy, "/api/auth/login", "POST", body, {"Content-Type": "application/json"}
        )[0]

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post, range(40)))
    assert HTTPStatus.TOO_MANY_REQUESTS in statuses
    assert get(proxy, "/health")[0] == HTTPStatus.OK  # probes are not limited


def test_app__sees_the_real_client_address(proxy, app):
    """The client's own X-Forwarded-For is replaced; the app records its address."""
    _, url = app
    status, body, _, response = get(proxy, "/api/auth/csrf", source="127.0.0.2")
    token = json.loads(body)["csrf_token"]
    csrf_cookie = response.getheader("Set-Cookie").split(";")[0]
    status, body, _, response = get(
        proxy,
        "/api/auth/login",
        "POST",
        json.dumps({"username": "\\corp\\admin", "password": PASSWORD}),
        {
            "Content-Type": "application/json",
            "X-CSRFToken": token,
            "Cookie": csrf_cookie,
            "X-Forwarded-For": "6.6.6.6",
        },
        source="127.0.0.2",
    )
    assert status == HTTPStatus.OK, body
    with psycopg.connect(url) as conn:
        ips = conn.execute("SELECT host(ip) FROM sessions").fetchall()
    assert ips == [("127.0.0.2",)]
