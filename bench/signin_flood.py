"""The sign-in flood in the production shape: through nginx, from many addresses.

64 connections post wrong passwords for 30 s from 16 client addresses (127.0.0.2
to 127.0.0.17, each connection's bound source address), over 1,000 existing and
1,000 unknown usernames, at Debian's nginx running the repository's template in
front of the app under gunicorn.conf.py, with the production lockout settings.
Meanwhile /health is probed 5 times a second through nginx and on the probe port,
and a legitimate user signs in once a second from 127.0.0.100 with the device
cookie of an earlier sign-in (a returning student: the target), and another once
a second from 127.0.0.101 without one (a first sign-in on a new device: reported).
Then 16 slow clients hold the probe port (half a request line, then nothing)
while it is probed, and a locked-out attempt is timed.
"""

from __future__ import annotations

import collections
import json
import socket
import ssl
import threading
import time

import psycopg

from bench.report import Row, Target, percentile
from testsupport.servers import Gunicorn, Nginx, manage

CONNECTIONS = 64
ADDRESSES = [f"127.0.0.{n}" for n in range(2, 18)]
LEGIT_ADDRESS = "127.0.0.100"
NEW_DEVICE_ADDRESS = "127.0.0.101"
USERS = 1000
LEGIT = "\\flood\\legit"
PASSWORD = "bench correct horse 1"  # a throwaway bench user's
SLOW_CLIENTS = 16
SLOW_SECONDS = 10
PROBE_P95_MS = Target("<", 100)
LEGIT_SHARE = Target(">=", 0.95)
LEGIT_P99_S = Target("<", 1)
ERRORS = Target("==", 0)


def run(context, args) -> dict:
    _seed(context)
    app = Gunicorn({**context.env, "DJANGO_TRUSTED_PROXIES": "127.0.0.1"})
    nginx = Nginx(f"127.0.0.1:{app.port}")
    try:
        edge = (nginx.port, nginx.tls_context())
        token, cookie = _csrf(edge)
        stop = threading.Event()
        probes = {"nginx": [], "probe_port": []}
        legit: list[tuple[float | None, int | None]] = []
        new_device: list[tuple[float | None, int | None]] = []
        device = _device_cookie(edge)
        helpers = [
            threading.Thread(target=_probe, args=(edge, stop, probes["nginx"])),
            threading.Thread(
                target=_probe, args=((app.probe_port, None), stop, probes["probe_port"])
            ),
            threading.Thread(target=_legit, args=(edge, stop, legit, device)),
            threading.Thread(
                target=_legit,
                args=(edge, stop, new_device, None, NEW_DEVICE_ADDRESS),
            ),
        ]
        for helper in helpers:
            helper.start()
        flood = _flood(edge, args.flood_duration, token, cookie)
        stop.set()
        for helper in helpers:
            helper.join()
        slow = _slow_clients(app.probe_port)
        locked = _locked_attempts(edge, token, cookie)
    finally:
        nginx.stop()
        app.stop()
    return _summary(flood, probes, legit, new_device, slow, locked)


def _summary(flood, probes, legit, new_device, slow, locked) -> dict:
    def timed(samples):
        ms = [ms for ms, status in samples if status is not None]
        return {
            "samples": len(samples),
            "p50_ms": percentile(ms, 50),
            "p95_ms": percentile(ms, 95),
            "p99_ms": percentile(ms, 99),
            "non_200": sum(1 for _, status in samples if status != 200),
        }

    statuses = flood["statuses"]
    signed_in = sorted(s for s, status in legit if status == 200)
    return {
        "connections": CONNECTIONS,
        "addresses": len(ADDRESSES),
        "seconds": flood["seconds"],
        "statuses": dict(sorted(statuses.items())),
        "refusals_without_retry_after": flood["without_retry_after"],
        "socket_errors": flood["socket_errors"],
        "unexpected_5xx": sum(
            count for status, count in statuses.items() if 500 <= status != 503
        ),
        "probes_nginx": timed(probes["nginx"]),
        "probes_probe_port": timed(probes["probe_port"]),
        "legit_attempts": len(legit),
        "legit_signed_in": len(signed_in),
        "legit_share": len(signed_in) / max(len(legit), 1),
        "legit_p50_s": percentile(signed_in, 50),
        "legit_p99_s": percentile(signed_in, 99),
        "legit_each": [(s and round(s, 3), status) for s, status in legit],
        "new_device_attempts": len(new_device),
        "new_device_signed_in": sum(1 for _, status in new_device if status == 200),
        "slow_clients": SLOW_CLIENTS,
        "probes_beside_slow_clients": timed(slow),
        "locked_statuses": sorted({status for _, status in locked}),
        "locked_p50_ms": percentile([ms for ms, _ in locked], 50),
        "locked_p99_ms": percentile([ms for ms, _ in locked], 99),
    }


def rows(report: dict) -> list[Row]:
    rows = [
        Row(
            f"flood via nginx: {report['connections']} conns, "
            f"{report['addresses']} addresses, {report['seconds']:.0f} s",
            ", ".join(f"{k}: {v}" for k, v in report["statuses"].items()),
        )
    ]
    for key, label in (
        ("probes_nginx", "flood: /health via nginx"),
        ("probes_probe_port", "flood: /health on the probe port"),
        ("probes_beside_slow_clients", "16 slow clients: probe port"),
    ):
        probes = report[key]
        rows += [
            Row(
                f"{label} p50 / p95 ms",
                f"{probes['p50_ms']:.1f} / {probes['p95_ms']:.1f}",
                PROBE_P95_MS,
                probes["p95_ms"],
            ),
            Row(
                f"{label} non-200",
                f"{probes['non_200']} of {probes['samples']}",
                ERRORS,
                probes["non_200"],
            ),
        ]
    missing = report["legit_attempts"] - report["legit_signed_in"]
    return [
        *rows,
        Row(
            "flood: legit sign-ins (device cookie) that succeed",
            f"{report['legit_signed_in']} of {report['legit_attempts']}",
            LEGIT_SHARE,
            report["legit_share"],
        ),
        Row(
            "flood: first sign-ins on a new device that succeed (no target)",
            f"{report['new_device_signed_in']} of {report['new_device_attempts']}",
        ),
        Row(
            "flood: legit sign-in p50 / p99 s",
            f"{report['legit_p50_s']:.2f} / {report['legit_p99_s']:.2f}",
            LEGIT_P99_S,
            report["legit_p99_s"] if report["legit_signed_in"] else float("inf"),
        ),
        Row(
            "flood: 5xx but 503, refusals without Retry-After",
            f"{report['unexpected_5xx']}, {report['refusals_without_retry_after']}"
            f" ({missing} legit missed)",
            ERRORS,
            report["unexpected_5xx"] + report["refusals_without_retry_after"],
        ),
        Row(
            "locked-out attempt via nginx p50 / p99 ms",
            f"{report['locked_p50_ms']:.1f} / {report['locked_p99_ms']:.1f}"
            f" (status {report['locked_statuses']})",
        ),
    ]


def _seed(context) -> None:
    script = (
        "from django.contrib.auth.hashers import make_password;"
        f"print(make_password({PASSWORD!r}))"
    )
    result = manage("shell", "--no-imports", "-c", script, env=context.env)
    hashed = result.stdout.strip().splitlines()[-1]
    with psycopg.connect(context.url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (username, password_hash) "
            "SELECT '\\flood\\user' || n, %s FROM generate_series(1, %s) AS n",
            [hashed, USERS],
        )
        conn.execute(
            "INSERT INTO users (username, password_hash) VALUES (%s, %s)",
            [LEGIT, hashed],
        )


def _exchange(sock: socket.socket, request: bytes) -> tuple[int, dict, bytes]:
    """Send one request on `sock`; return its status, headers and body."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", 0))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _connect(
    port: int, source: str, timeout: float = 10, tls: ssl.SSLContext | None = None
) -> socket.socket:
    sock = socket.create_connection(
        ("127.0.0.1", port), timeout=timeout, source_address=(source, 0)
    )
    return tls.wrap_socket(sock, server_hostname="127.0.0.1") if tls else sock


def _request(method, path, body=b"", headers=None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _login(username: str, password: str, token: str, cookie: str) -> bytes:
    body = json.dumps({"username": username, "password": password}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-CSRFToken": token,
        "Cookie": cookie,
        # As a browser's, for Django's CSRF check over HTTPS (Host: 127.0.0.1).
        "Origin": "https://127.0.0.1",
    }
    return _request("POST", "/api/auth/login", body, headers)


def _csrf(edge, source: str = LEGIT_ADDRESS) -> tuple[str, str]:
    port, tls = edge
    with _connect(port, source, tls=tls) as sock:
        _, headers, body = _exchange(sock, _request("GET", "/api/auth/csrf"))
    return json.loads(body)["csrf_token"], headers["set-cookie"].split(";")[0]


def _flood(edge, seconds: int, token: str, cookie: str) -> dict:
    """Post wrong passwords from CONNECTIONS connections for `seconds`."""
    names = [f"\\flood\\user{n}" for n in range(1, USERS + 1)]
    names += [f"\\flood\\ghost{n}" for n in range(1, USERS + 1)]
    requests = [_login(name, "wrong password", token, cookie) for name in names]
    deadline = time.monotonic() + seconds
    results = []

    def connection(number: int) -> None:
        statuses: collections.Counter = collections.Counter()
        without_retry_after = errors = 0
        source = ADDRESSES[number % len(ADDRESSES)]
        sock = None
        n = number
        while time.monotonic() < deadline:
            try:
                sock = sock or _connect(edge[0], source, tls=edge[1])
                status, headers, _ = _exchange(sock, requests[n % len(requests)])
            except OSError:
                errors += 1
                if sock is not None:
                    sock.close()
                sock = None
                continue
            n += CONNECTIONS
            statuses[status] += 1
            if status in (429, 503) and "retry-after" not in headers:
                without_retry_after += 1
            if headers.get("connection", "").lower() == "close":
                sock.close()
                sock = None
        if sock is not None:
            sock.close()
        results.append((statuses, without_retry_after, errors))

    started = time.monotonic()
    threads = [
        threading.Thread(target=connection, args=(n,)) for n in range(CONNECTIONS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total: collections.Counter = collections.Counter()
    for statuses, _, _ in results:
        total.update(statuses)
    return {
        "seconds": time.monotonic() - started,
        "statuses": total,
        "without_retry_after": sum(r[1] for r in results),
        "socket_errors": sum(r[2] for r in results),
    }


def _get(edge, path: str, source: str = "127.0.0.1") -> tuple[float, int | None]:
    """GET `path` on a new connection, as a load balancer probes; (ms, status)."""
    port, tls = edge
    started = time.monotonic()
    try:
        with _connect(port, source, timeout=5, tls=tls) as sock:
            status, _, _ = _exchange(sock, _request("GET", path))
    except OSError:
        status = None
    return (time.monotonic() - started) * 1000, status


def _probe(edge, stop: threading.Event, out: list) -> None:
    while not stop.wait(0.2):
        out.append(_get(edge, "/health"))


def _device_cookie(edge) -> str:
    """Sign the legitimate user in once, as yesterday: its browser's device cookie."""
    port, tls = edge
    token, cookie = _csrf(edge)
    with _connect(port, LEGIT_ADDRESS, tls=tls) as sock:
        sock.sendall(_login(LEGIT, PASSWORD, token, cookie))
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "set-cookie" and value.strip().startswith("device="):
            return value.strip().split(";")[0]
    raise RuntimeError("the legitimate sign-in set no device cookie")


def _legit(
    edge, stop: threading.Event, out: list, device=None, source=LEGIT_ADDRESS
) -> None:
    port, tls = edge
    token, cookie = _csrf(edge, source)
    request = _login(
        LEGIT, PASSWORD, token, f"{cookie}; {device}" if device else cookie
    )
    while not stop.wait(1.0):
        started = time.monotonic()
        try:
            with _connect(port, source, tls=tls) as sock:
                status, _, _ = _exchange(sock, request)
            out.append((time.monotonic() - started, status))
        except OSError:
            out.append((None, None))


def _slow_clients(port: int) -> list[tuple[float, int | None]]:
    """Probe the probe port 5 times a second while SLOW_CLIENTS hold it."""
    stop = threading.Event()

    def slow_client() -> None:
        while not stop.is_set():
            try:
                with _connect(port, "127.0.0.50") as sock:
                    sock.sendall(b"GET /health HT")
                    sock.recv(1)  # until the server's read deadline drops it
            except OSError:
                pass

    clients = [threading.Thread(target=slow_client) for _ in range(SLOW_CLIENTS)]
    for client in clients:
        client.start()
    time.sleep(0.5)
    samples = []
    deadline = time.monotonic() + SLOW_SECONDS
    while time.monotonic() < deadline:
        samples.append(_get((port, None), "/health"))
        time.sleep(0.2)
    stop.set()
    for client in clients:
        client.join()
    return samples


def _locked_attempts(edge, token, cookie, attempts: int = 50):
    """Lock out one username, then time attempts at it from fresh addresses."""
    port, tls = edge
    request = _login("\\flood\\user1", "wrong password", token, cookie)
    timed = []
    for n in range(attempts):
        started = time.monotonic()
        with _connect(port, f"127.0.1.{n + 1}", tls=tls) as sock:
            status, _, _ = _exchange(sock, request)
        timed.append(((time.monotonic() - started) * 1000, status))
    return timed[10:]  # the first failures, before the lockout, hash
