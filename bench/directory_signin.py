"""Directory sign-in through nginx (HTTPS), against Samba's AD domain controller.

One app behind the repository's nginx template, with the `uni` domain pointed at a
local Samba DC (testsupport.samba). In one run: sign-ins of a directory user and
of a local-password user (bcrypt, as production hashes), interleaved, each from
its own loopback address (nginx's per-address sign-in rate stays out of it); then
the local sign-ins and /health again while the DC is frozen (SIGSTOP).

Needs root and Debian's Samba DC packages; without them the scenario says why.
"""

from __future__ import annotations

import json
import statistics

from bench.report import Row, Target
from testsupport import samba
from testsupport.servers import Gunicorn, Nginx, manage

LOCAL = "\\bench\\local"
DIRECTORY_USER = "student"
PASSWORD = "Bench-Pass-phrase-2026"
SIGN_INS = 30
# The directory's sign-in p50 may exceed the local one's by this much (ms).
P50_GAP_MS = Target("<=", 50)
# With the directory frozen, local sign-ins' and /health's p95 against before.
FROZEN_P95_RATIO = Target("<=", 1.25)


def run(context, args) -> dict:
    if reason := samba.available():
        return {"skipped": reason}
    dc = samba.SambaDC().start()
    try:
        dc.add_user(DIRECTORY_USER, PASSWORD)
        env = {
            **context.env,
            "DJANGO_SECURE_PROXY_SSL_HEADER": "true",
            "DIRECTORY_DOMAINS": "uni",
            "DIRECTORY_UNI_URL": dc.url,
            "DIRECTORY_UNI_CA_FILE": str(dc.tls["ca"]),
            "DIRECTORY_UNI_BASE_DN": samba.BASE_DN,
            "DIRECTORY_UNI_BIND_DN": f"CN=Administrator,CN=Users,{samba.BASE_DN}",
            "DIRECTORY_UNI_BIND_PASSWORD": samba.ADMIN_PASSWORD,
            "DIRECTORY_UNI_TIMEOUT": "1",
        }
        result = manage(
            "createsuperuser",
            "--noinput",
            "--username",
            LOCAL,
            env={**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
        )
        if result.returncode != 0 and "already taken" not in result.stderr:
            raise RuntimeError(f"createsuperuser failed: {result.stderr}")
        app = Gunicorn(env)
        edge = Nginx(f"127.0.0.1:{app.port}")
        try:
            return _measure(dc, edge)
        finally:
            edge.stop()
            app.stop()
    finally:
        dc.stop()


def _measure(dc, edge: Nginx) -> dict:
    addresses = (f"127.0.{2 + n // 250}.{1 + n % 250}" for n in range(10_000))
    local, directory = [], []
    _sign_in(edge, f"\\uni\\{DIRECTORY_USER}", next(addresses))  # creates the user
    for _ in range(SIGN_INS):
        local.append(_sign_in(edge, LOCAL, next(addresses)))
        directory.append(_sign_in(edge, f"\\uni\\{DIRECTORY_USER}", next(addresses)))
    health = [_health(edge) for _ in range(SIGN_INS)]
    dc.freeze()
    try:
        # The first one after the freeze waits for the deadline; later ones skip
        # the away server: both are the directory's users' 503, not measured.
        frozen_status = _status(edge, f"\\uni\\{DIRECTORY_USER}", next(addresses))
        frozen_local = [_sign_in(edge, LOCAL, next(addresses)) for _ in range(SIGN_INS)]
        frozen_health = [_health(edge) for _ in range(SIGN_INS)]
    finally:
        dc.thaw()
    return {
        "local_p50_ms": _p(local, 50),
        "directory_p50_ms": _p(directory, 50),
        "local_p95_ms": _p(local, 95),
        "frozen_directory_status": frozen_status,
        "frozen_local_p95_ms": _p(frozen_local, 95),
        "health_p95_ms": _p(health, 95),
        "frozen_health_p95_ms": _p(frozen_health, 95),
    }


def _p(seconds: list[float], percent: int) -> float:
    return statistics.quantiles(seconds, n=100)[percent - 1] * 1000


def _post(edge: Nginx, username: str, source: str):
    _, body, _, response = edge.request("/api/auth/csrf", source=source)
    cookie = response.headers["Set-Cookie"].split(";")[0]
    return edge.request(
        "/api/auth/login",
        method="POST",
        body=json.dumps({"username": username, "password": PASSWORD}),
        headers={
            "Content-Type": "application/json",
            "X-CSRFToken": json.loads(body)["csrf_token"],
            "Cookie": cookie,
            "Origin": edge.origin,
        },
        source=source,
    )


def _sign_in(edge: Nginx, username: str, source: str) -> float:
    status, body, seconds, _ = _post(edge, username, source)
    if status != 200:
        raise RuntimeError(f"sign-in of {username} through nginx: {status} {body}")
    return seconds


def _status(edge: Nginx, username: str, source: str) -> int:
    return _post(edge, username, source)[0]


def _health(edge: Nginx) -> float:
    status, body, seconds, _ = edge.request("/health")
    if status != 200:
        raise RuntimeError(f"/health through nginx: {status} {body}")
    return seconds


def rows(report: dict) -> list[Row]:
    if "skipped" in report:
        return [Row("directory sign-in", f"skipped: {report['skipped']}")]
    gap = report["directory_p50_ms"] - report["local_p50_ms"]
    local_ratio = report["frozen_local_p95_ms"] / report["local_p95_ms"]
    health_ratio = report["frozen_health_p95_ms"] / report["health_p95_ms"]
    return [
        Row(
            "directory sign-in p50 - local p50, ms (nginx, Samba DC)",
            f"{report['directory_p50_ms']:.1f} - {report['local_p50_ms']:.1f}"
            f" = {gap:.1f}",
            P50_GAP_MS,
            gap,
        ),
        Row(
            "local sign-in p95, directory frozen / not",
            f"{report['frozen_local_p95_ms']:.1f} / {report['local_p95_ms']:.1f} ms"
            f" = {local_ratio:.2f}",
            FROZEN_P95_RATIO,
            local_ratio,
        ),
        Row(
            "/health p95, directory frozen / not",
            f"{report['frozen_health_p95_ms']:.1f} / {report['health_p95_ms']:.1f} ms"
            f" = {health_ratio:.2f}",
            FROZEN_P95_RATIO,
            health_ratio,
        ),
        Row(
            "directory user's sign-in, directory frozen",
            str(report["frozen_directory_status"]),
        ),
    ]
