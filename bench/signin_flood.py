"""The sign-in flood (#11): probes, a legitimate user, lockouts and hashing under it.

64 wrk connections post wrong passwords for 30 s, over 1,000 existing and 1,000
unknown usernames and FLOOD_IPS client addresses (through the trusted-proxy
header), at the app under gunicorn.conf.py. Meanwhile /health is probed 5 times a
second and a legitimate user signs in once a second from an address of its own.
Then a locked-out attempt is timed, and the bcrypt ceiling (cores / one hash) is
measured in the same run.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import psycopg

from bench.report import Row, Target, percentile
from tests.support import Gunicorn, manage

HERE = Path(__file__).resolve().parent
CONNECTIONS = 64
# Several addresses, each failing again and again: each is a known guesser after
# its first failure. The failure limit is raised for the flood so that lockouts
# do not end the hashing demand the flood measures; a lockout's own cost is
# timed afterwards on an app with the default limit.
ADDRESSES = 16
FLOOD_FAILURE_LIMIT = "100000"
LEGIT = "\\flood\\legit"
PASSWORD = "bench correct horse 1"  # noqa: S105 - a throwaway bench user's
PROBE_P99_MS = Target("<", 100)
LEGIT_P99_S = Target("<", 1)
LOCKED_MS = Target("<", 5)
HASHING_RATIO = Target(">=", 0.8)
ERRORS = Target("==", 0)


def run(context, args) -> dict:
    hash_seconds = _hash_seconds(context.env)
    _seed(context, args)
    env = {**context.env, "DJANGO_TRUSTED_PROXIES": "127.0.0.1"}
    app = Gunicorn({**env, "DJANGO_SIGNIN_FAILURE_LIMIT": FLOOD_FAILURE_LIMIT})
    try:
        token, cookie = _csrf(app)
        probes, legit = [], []
        stop = threading.Event()
        workers = [
            threading.Thread(target=_probe, args=(app, stop, probes)),
            threading.Thread(target=_legit, args=(app, stop, legit)),
        ]
        for worker in workers:
            worker.start()
        flood = _wrk(context.wrk, app, args.flood_duration, token, cookie)
        stop.set()
        for worker in workers:
            worker.join()
    finally:
        app.stop()
    app = Gunicorn(env)
    try:
        locked = _locked_attempts(app)
    finally:
        app.stop()
    statuses = flood["statuses"]
    seconds = flood["duration_us"] / 1e6
    # Each 401 is one hash: a wrong password, or an unknown user's decoy hash;
    # each answered sign-in of the legitimate user is one more.
    hashes = statuses.get("401", 0) + sum(
        1 for _, status in legit if status in (200, 401)
    )
    probe_ms = sorted(ms for ms, status in probes if status is not None)
    legit_s = sorted(s for s, status in legit if status == 200)
    cores = os.cpu_count()
    return {
        "connections": CONNECTIONS,
        "addresses": ADDRESSES,
        "seconds": seconds,
        "statuses": statuses,
        "socket_errors": flood["socket_errors"],
        "hash_seconds": hash_seconds,
        "hash_ceiling_per_s": cores / hash_seconds,
        "hashes_per_s": hashes / seconds,
        "hashing_ratio": hashes / seconds / (cores / hash_seconds),
        "probes": len(probes),
        "probe_p50_ms": percentile(probe_ms, 50),
        "probe_p99_ms": percentile(probe_ms, 99),
        "probe_non_200": sum(1 for _, status in probes if status != 200),
        "legit_attempts": len(legit),
        "legit_signed_in": len(legit_s),
        "legit_p50_s": percentile(legit_s, 50),
        "legit_p99_s": percentile(legit_s, 99),
        "legit_each": [(s and round(s, 3), status) for s, status in legit],
        "locked_statuses": sorted({status for _, status in locked}),
        "locked_p50_ms": percentile([ms for ms, _ in locked], 50),
        "locked_p99_ms": percentile([ms for ms, _ in locked], 99),
        "unexpected_5xx": sum(
            count
            for status, count in statuses.items()
            if status.startswith("5") and status != "503"
        ),
    }


def rows(report: dict) -> list[Row]:
    s = report["statuses"]
    legit_missing = report["legit_attempts"] - report["legit_signed_in"]
    return [
        Row(
            f"flood: {report['connections']} conns, {report['seconds']:.0f} s",
            ", ".join(f"{k}: {v}" for k, v in sorted(s.items())),
        ),
        Row(
            "flood: /health p50 / p99 ms",
            f"{report['probe_p50_ms']:.1f} / {report['probe_p99_ms']:.1f}",
            PROBE_P99_MS,
            report["probe_p99_ms"],
        ),
        Row(
            "flood: /health non-200 + socket errors",
            f"{report['probe_non_200']} of {report['probes']}",
            ERRORS,
            report["probe_non_200"],
        ),
        Row(
            "flood: legit sign-in p50 / p99 s",
            f"{report['legit_p50_s']:.2f} / {report['legit_p99_s']:.2f}"
            f" ({legit_missing} of {report['legit_attempts']} not signed in)",
            LEGIT_P99_S,
            report["legit_p99_s"] if not legit_missing else float("inf"),
        ),
        Row(
            "locked-out attempt p50 / p99 ms",
            f"{report['locked_p50_ms']:.1f} / {report['locked_p99_ms']:.1f}"
            f" (status {report['locked_statuses']})",
            LOCKED_MS,
            report["locked_p99_ms"],
        ),
        Row(
            "hashes/s / bcrypt ceiling",
            f"{report['hashes_per_s']:.1f} / {report['hash_ceiling_per_s']:.1f}"
            f" = {report['hashing_ratio']:.2f}",
            HASHING_RATIO,
            report["hashing_ratio"],
        ),
        Row(
            "flood: 5xx but 503 + Retry-After, sockets",
            f"{report['unexpected_5xx']} + {report['socket_errors']}",
            ERRORS,
            report["unexpected_5xx"] + report["socket_errors"],
        ),
    ]


def _hash_seconds(env: dict) -> float:
    """Time one hash of the configured hasher, as the app runs it."""
    script = (
        "import time; from django.contrib.auth.hashers import make_password;"
        "make_password('warm');"
        "t = time.perf_counter(); [make_password('x') for _ in range(8)];"
        "print((time.perf_counter() - t) / 8)"
    )
    result = manage("shell", "--no-imports", "-c", script, env=env)
    return float(result.stdout.strip().splitlines()[-1])


def _seed(context, args) -> None:
    script = (
        "from django.contrib.auth.hashers import make_password;"
        f"print(make_password({PASSWORD!r}))"
    )
    result = manage("shell", "--no-imports", "-c", script, env=context.env)
    hashed = result.stdout.strip().splitlines()[-1]
    with psycopg.connect(context.url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (username, password_hash) "
            "SELECT '\\flood\\user' || n, %s FROM generate_series(1, 1000) AS n",
            [hashed],
        )
        conn.execute(
            "INSERT INTO users (username, password_hash) VALUES (%s, %s)",
            [LEGIT, hashed],
        )


def _request(app, method, path, body=None, headers=None, timeout=10.0):
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=timeout)
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response, time.monotonic() - started
    finally:
        conn.close()


def _csrf(app, address="192.0.2.200") -> tuple[str, str]:
    response, _ = _request(
        app, "GET", "/api/auth/csrf", headers={"X-Forwarded-For": address}
    )
    cookie = response.getheader("Set-Cookie").split(";")[0]
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
    conn.request("GET", "/api/auth/csrf", headers={"Cookie": cookie})
    token = json.loads(conn.getresponse().read())["csrf_token"]
    conn.close()
    return token, cookie


def _probe(app, stop, out) -> None:
    while not stop.wait(0.2):
        try:
            response, seconds = _request(app, "GET", "/health", timeout=5)
            out.append((seconds * 1000, response.status))
        except OSError:
            out.append((None, None))


def _legit(app, stop, out) -> None:
    token, cookie = _csrf(app)
    body = json.dumps({"username": LEGIT, "password": PASSWORD})
    headers = {
        "Content-Type": "application/json",
        "X-CSRFToken": token,
        "Cookie": cookie,
        "X-Forwarded-For": "192.0.2.200",
    }
    while not stop.wait(1.0):
        try:
            response, seconds = _request(app, "POST", "/api/auth/login", body, headers)
            out.append((seconds, response.status))
        except OSError:
            out.append((None, None))


def _wrk(wrk: str, app, seconds: int, token: str, cookie: str) -> dict:
    result = subprocess.run(
        [
            wrk,
            f"--connections={CONNECTIONS}",
            "--threads=2",
            f"--duration={seconds}s",
            "--timeout=10s",
            f"--script={HERE / 'flood.lua'}",
            app.url("/api/auth/login"),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={
            **os.environ,
            "FLOOD_CSRF": token,
            "FLOOD_COOKIE": cookie,
            "FLOOD_IPS": str(ADDRESSES),
        },
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _locked_attempts(app, attempts: int = 100) -> list[tuple[float, int]]:
    """Lock out one username, then time attempts at it from fresh addresses."""
    token, cookie = _csrf(app)
    victim = "\\flood\\user1"
    headers = {
        "Content-Type": "application/json",
        "X-CSRFToken": token,
        "Cookie": cookie,
    }
    body = json.dumps({"username": victim, "password": "wrong"})
    for n in range(10):
        _request(
            app,
            "POST",
            "/api/auth/login",
            body,
            {**headers, "X-Forwarded-For": f"198.51.100.{n + 1}"},
        )
    timed = []
    for n in range(attempts):
        response, seconds = _request(
            app,
            "POST",
            "/api/auth/login",
            body,
            {**headers, "X-Forwarded-For": f"203.0.113.{n + 1}"},
        )
        timed.append((seconds * 1000, response.status))
    return timed
