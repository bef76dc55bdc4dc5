"""docker/nginx in front of gunicorn, with Debian's nginx: TLS, slow clients, limits,
the real client address."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from pathlib import Path

import psycopg
import pytest

from testsupport.servers import Nginx, serve_with_admin

pytestmark = pytest.mark.nginx
PASSWORD = "nginx-test-pass-1"
JSON = {"Content-Type": "application/json"}
WRONG = json.dumps({"username": "\\uni\\nobody", "password": "wrong password"})
# docker/nginx's sign-in limits per address: at once, then waiting their turn.
BURST, QUEUED = 28, 12


@pytest.fixture(scope="module")
def app(throwaway_postgres, collected_static):
    # The app's own bound on hashing waits rather than answering 503 here, so
    # that every 503 these tests see is nginx's.
    app = serve_with_admin(
        throwaway_postgres,
        "nginx",
        PASSWORD,
        DJANGO_TRUSTED_PROXIES="127.0.0.1",
        DJANGO_SIGNIN_HASH_WAIT="10",
    )
    yield app, throwaway_postgres.url("nginx")
    app.stop()


@pytest.fixture(scope="module")
def nginx(app):
    """Debian's nginx serving the repository's template in front of gunicorn."""
    gunicorn, _ = app
    proxy = Nginx(f"127.0.0.1:{gunicorn.port}")
    yield proxy
    proxy.stop()


def csrf_headers(nginx) -> dict[str, str]:
    """Return the JSON and CSRF headers a sign-in needs, as a frontend sends them."""
    _, body, _, response = nginx.request("/api/auth/csrf", source="127.0.0.99")
    cookie = response.getheader("Set-Cookie").split(";")[0]
    token = json.loads(body)["csrf_token"]
    return {**JSON, "X-CSRFToken": token, "Cookie": cookie, "Origin": nginx.origin}


def sign_ins(nginx, sources):
    """Post wrong passwords at once, one from each of `sources`; return answers."""
    headers = csrf_headers(nginx)
    with ThreadPoolExecutor(len(sources)) as pool:
        return list(
            pool.map(
                lambda source: nginx.request(
                    "/api/auth/login", "POST", WRONG, headers, source=source
                ),
                sources,
            )
        )


def test_probes__pass_through(nginx):
    status, body, _, _ = nginx.request("/health")
    assert status == HTTPStatus.OK
    assert json.loads(body)["status"] == "healthy"


def test_slowloris__does_not_delay_probes_or_the_admin(nginx, measure):
    """20 clients sending headers a byte a second; gunicorn has 6 threads."""
    stop = threading.Event()

    def slow_client():
        raw = socket.create_connection(("127.0.0.1", nginx.port))
        with nginx.tls_context().wrap_socket(raw, server_hostname="127.0.0.1") as sock:
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
            nginx.request(path) for _ in range(5) for path in ("/health", "/admin/")
        ]
    finally:
        stop.set()
    assert [a[0] for a in answers] == [HTTPStatus.OK, HTTPStatus.FOUND] * 5
    measure(
        f"nginx: slowest answer during slowloris {max(a[2] for a in answers):.3f} s"
    )


class TestSignInLimits:
    @pytest.mark.parametrize(
        ("path", "source", "kind"),
        [
            ("/api/auth/login", "127.0.0.21", "application/json"),
            ("/admin/login/", "127.0.0.22", "text/plain"),
        ],
    )
    def test_rate_per_address__burst_then_wait_then_429(
        self, nginx, path, source, kind
    ):
        """About 28 at once, the next dozen wait their turn, any more are refused."""
        # A request nginx delays waits seconds for its turn (one every 10 s); one it
        # lets by is a quick 403 from Django (no CSRF token), even on a busy machine.
        nginx.request(path, "POST", WRONG, JSON, source="127.0.0.20")  # warm
        outcomes = []
        started = time.monotonic()
        while HTTPStatus.TOO_MANY_REQUESTS not in outcomes and len(outcomes) < 60:
            try:
                status = nginx.request(
                    path, "POST", WRONG, JSON, source=source, timeout=1
                )[0]
            except TimeoutError:
                status = "waits"
            outcomes.append(status)
        # The queue drains by one every 10 s (6r/m) while the test waits.
        drained = (time.monotonic() - started) / 10
        answered = outcomes.index("waits")
        assert BURST - 2 <= answered <= BURST + 2, outcomes
        assert set(outcomes[:answered]) == {HTTPStatus.FORBIDDEN}
        assert outcomes[answered:-1] == ["waits"] * (len(outcomes) - answered - 1)
        queued = len(outcomes) - answered - 1
        assert QUEUED - 2 <= queued - drained <= QUEUED + 2, (outcomes, drained)
        status, body, _, response = nginx.request(
            path, "POST", WRONG, JSON, source=source
        )
        assert status == HTTPStatus.TOO_MANY_REQUESTS
        assert response.getheader("Retry-After") == "10"
        assert response.getheader("Content-Type") == kind
        if kind == "application/json":
            assert json.loads(body) == {
                "error": "too many sign-in attempts: try again shortly"
            }
        # Another address, the page itself and the probes are not limited.
        other = nginx.request(path, "POST", WRONG, JSON, source="127.0.0.23")
        assert other[0] == HTTPStatus.FORBIDDEN
        assert nginx.request("/admin/login/", source=source)[0] == HTTPStatus.OK
        assert nginx.request("/health", source=source)[0] == HTTPStatus.OK

    @pytest.mark.parametrize(
        ("path", "limited"),
        [
            ("/api/auth/reauthenticate", True),
            ("/api/auth/password", True),
            ("/admin/password_change/", True),
            ("/api/auth/logout", False),  # checks no password: not limited
        ],
    )
    def test_other_password_checks__are_limited_as_sign_in(self, nginx, path, limited):
        source = f"127.0.0.{40 + len(path)}"

        def post(_):
            try:
                return nginx.request(path, "POST", WRONG, JSON, source=source)[0]
            except TimeoutError:
                return "waits"

        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(post, range(16)))
        assert (HTTPStatus.TOO_MANY_REQUESTS in outcomes) is limited, outcomes

    def test_concurrent_per_address__third_at_once_is_429(self, nginx):
        answers = sign_ins(nginx, ["127.0.0.24"] * 6)
        statuses = [a[0] for a in answers]
        assert HTTPStatus.TOO_MANY_REQUESTS in statuses
        assert HTTPStatus.UNAUTHORIZED in statuses

    def test_per_instance__503_with_retry_after_past_two_at_once(self, nginx):
        """Eight addresses at once: two hash, nginx turns the rest away."""
        answers = sign_ins(nginx, [f"127.0.0.{n}" for n in range(30, 38)])
        statuses = [a[0] for a in answers]
        busy = [a for a in answers if a[0] == HTTPStatus.SERVICE_UNAVAILABLE]
        assert busy, statuses
        assert set(statuses) <= {
            HTTPStatus.UNAUTHORIZED,
            HTTPStatus.SERVICE_UNAVAILABLE,
        }
        for _, body, _, response in busy:
            assert response.getheader("Retry-After")
            assert json.loads(body)["error"] == "sign-in is busy: try again shortly"

    def test_device_cookie__has_its_own_lane_past_a_full_one(self, nginx):
        """Strangers fill the cookie-less lane; a returning browser gets through."""
        headers = csrf_headers(nginx)
        device = {**headers, "Cookie": headers["Cookie"] + "; device=abc:def:ghi"}

        def post(args):
            source, sent = args
            # A name of its own each: no name's lockout answers for nginx.
            body = json.dumps({"username": f"\\lane\\{source}", "password": "x"})
            return nginx.request("/api/auth/login", "POST", body, sent, source=source)

        crowd = [(f"127.0.0.{n}", headers) for n in range(70, 78)]
        with ThreadPoolExecutor(9) as pool:
            answers = list(
                pool.map(post, [*crowd[:4], ("127.0.0.79", device), *crowd[4:]])
            )
        statuses = [a[0] for a in answers]
        assert HTTPStatus.SERVICE_UNAVAILABLE in statuses[:4] + statuses[5:], statuses
        assert statuses[4] == HTTPStatus.UNAUTHORIZED, statuses

    def test_upstream_keepalive__connections_are_reused(self, nginx, app):
        gunicorn, _ = app
        for _ in range(10):
            assert nginx.request("/health")[0] == HTTPStatus.OK
        # Idle in nginx's pool, not closed after each request.
        assert established_to(gunicorn.port) >= 1


def established_to(port: int) -> int:
    """Count the ESTABLISHED TCP connections to local `port` (Linux /proc)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == "01":
            count += 1
    return count


def test_app__sees_the_real_client_address(nginx, app):
    """The client's own X-Forwarded-For is replaced; the app records its address."""
    _, url = app
    status, body, _, response = nginx.request("/api/auth/csrf", source="127.0.0.2")
    token = json.loads(body)["csrf_token"]
    csrf_cookie = response.getheader("Set-Cookie").split(";")[0]
    status, body, _, response = nginx.request(
        "/api/auth/login",
        "POST",
        json.dumps({"username": "\\corp\\admin", "password": PASSWORD}),
        {
            **JSON,
            "X-CSRFToken": token,
            "Cookie": csrf_cookie,
            "Origin": nginx.origin,
            "X-Forwarded-For": "6.6.6.6",
        },
        source="127.0.0.2",
    )
    assert status == HTTPStatus.OK, body
    with psycopg.connect(url) as conn:
        ips = conn.execute("SELECT host(ip) FROM sessions").fetchall()
    assert ips == [("127.0.0.2",)]


class TestTls:
    def test_http__redirects_to_https_but_not_the_probes(self, nginx):
        status, _, _, response = nginx.request("/admin/?x=1", tls=False)
        assert status == HTTPStatus.MOVED_PERMANENTLY
        assert response.getheader("Location") == "https://127.0.0.1/admin/?x=1"
        for path in ("/health", "/health/live"):
            assert nginx.request(path, tls=False)[0] == HTTPStatus.OK

    @pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
    def test_tls_1_2_and_1_3__are_served(self, nginx, version):
        context = nginx.tls_context()
        context.minimum_version = context.maximum_version = ssl.TLSVersion[version]
        with handshake(nginx, context) as sock:
            assert sock.version() == version.replace("_", ".")

    @pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
    @pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
    def test_older_protocols__are_refused_by_nginx(self, nginx, version):
        context = nginx.tls_context()
        # Let this client offer them, so that the refusal is nginx's.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = context.maximum_version = ssl.TLSVersion[version]
        with pytest.raises(
            ssl.SSLError, match=r"ALERT_PROTOCOL_VERSION|alert protocol"
        ):
            handshake(nginx, context)

    @pytest.mark.parametrize(
        "cipher", ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384"]
    )
    def test_weak_ciphers__are_refused_by_nginx(self, nginx, cipher):
        """CBC suites of TLS 1.2: this client offers nothing else."""
        context = nginx.tls_context()
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(cipher)
        with pytest.raises(ssl.SSLError, match=r"HANDSHAKE_FAILURE|handshake failure"):
            handshake(nginx, context)


def handshake(nginx, context):
    raw = socket.create_connection(("127.0.0.1", nginx.port), timeout=5)
    try:
        return context.wrap_socket(raw, server_hostname="127.0.0.1")
    except BaseException:
        raw.close()
        raise


FRONT_PROXY = "127.0.0.3"


@pytest.fixture(scope="module")
def fronted(throwaway_postgres, collected_static):
    # Redirects to HTTPS unless the app hears the client used it.
    app = serve_with_admin(
        throwaway_postgres,
        "nginx_fronted",
        PASSWORD,
        DJANGO_TRUSTED_PROXIES="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="true",
        DJANGO_SECURE_PROXY_SSL_HEADER="true",
    )
    proxy = Nginx(f"127.0.0.1:{app.port}", NGINX_REAL_IP_FROM=f"{FRONT_PROXY}/32")
    yield proxy, throwaway_postgres.url("nginx_fronted")
    proxy.stop()
    app.stop()


class TestRealClientBehindAFrontProxy:
    """NGINX_REAL_IP_FROM names the front proxy; only its X-Forwarded-For counts."""

    PROXY = FRONT_PROXY

    def sign_in_from(self, nginx, source, forwarded_for):
        headers = csrf_headers(nginx)
        body = json.dumps({"username": "\\corp\\admin", "password": PASSWORD})
        status, text, _, _ = nginx.request(
            "/api/auth/login",
            "POST",
            body,
            {**headers, "X-Forwarded-For": forwarded_for},
            source=source,
        )
        assert status == HTTPStatus.OK, text

    def addresses(self, url):
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT host(ip) FROM sessions").fetchall()
            conn.execute("DELETE FROM sessions")
        return {ip for (ip,) in rows}

    def test_through_the_front_proxy__the_forwarded_client(self, fronted):
        nginx, url = fronted
        self.sign_in_from(nginx, self.PROXY, "198.51.100.7, 203.0.113.9")
        assert self.addresses(url) == {"203.0.113.9"}

    def test_from_anyone_else__their_own_address(self, fronted):
        nginx, url = fronted
        self.sign_in_from(nginx, "127.0.0.4", "203.0.113.9")
        assert self.addresses(url) == {"127.0.0.4"}

    def test_forwarded_proto__believed_from_the_front_proxy_only(self, fronted):
        nginx, _ = fronted
        told_http = {"X-Forwarded-Proto": "http"}
        # The front proxy says its client used plain HTTP: the app redirects.
        proxied = nginx.request("/admin/login/", headers=told_http, source=self.PROXY)
        assert proxied[0] == HTTPStatus.MOVED_PERMANENTLY
        # Anyone else's word is replaced by nginx's own scheme, HTTPS.
        direct = nginx.request("/admin/login/", headers=told_http, source="127.0.0.5")
        assert direct[0] == HTTPStatus.OK


class TestCertificateRenewal:
    """A renewed certificate is served after `nginx -s reload` (the documented
    step after an ACME client renews), without dropping a request in flight."""

    def connect(self, proxy, context=None) -> ssl.SSLSocket:
        raw = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        context = context or proxy.tls_context()
        return context.wrap_socket(raw, server_hostname="127.0.0.1")

    def served_anew(self, proxy, old: bytes, times: int) -> bool:
        """Whether `times` connections in a row get another certificate than
        `old`, within 10 s (old workers accept until they see the reload)."""
        deadline, row = time.monotonic() + 10, 0
        while row < times and time.monotonic() < deadline:
            with self.connect(proxy, self.unverified()) as fresh:
                row = row + 1 if fresh.getpeercert(binary_form=True) != old else 0
            if row < times:
                time.sleep(0.05)
        return row >= times

    @staticmethod
    def unverified() -> ssl.SSLContext:
        """To read which certificate is served, whichever it is."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context

    def test_reload__serves_the_new_pair_and_finishes_the_request_in_flight(self, app):
        gunicorn, _ = app
        proxy = Nginx(f"127.0.0.1:{gunicorn.port}")
        try:
            in_flight = self.connect(proxy)
            old = in_flight.getpeercert(binary_form=True)
            body = b'{"username": "x", "password": "y"}'
            in_flight.sendall(
                b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body[:10]
            )
            proxy.renew_certificate()
            proxy.reload()
            assert self.served_anew(proxy, old, times=1)
            in_flight.sendall(body[10:])
            answer = in_flight.recv(4096)
            in_flight.close()
            # An answer (CSRF's refusal), not a reset: the old worker finished it.
            assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
            # Once the old workers are gone, only the new pair is served: a
            # client trusting the renewed file connects.
            assert self.served_anew(proxy, old, times=5)
            status, _, _, _ = proxy.request("/health")
            assert status == HTTPStatus.OK
        finally:
            proxy.stop()
