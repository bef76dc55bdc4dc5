"""The audit trail's costs, in a database of its own:

- sign-ins with the trail against the same app with the app's side of it
  switched off (bench.untrailed: its receivers and middleware; the triggers stay,
  as they belong to the database), in alternating rounds: sign-ins a second, and
  SQL statements per sign-in and per signed-in GET /api/auth/me that the app
  sends (pg_stat_statements, without PostgreSQL's own foreign-key checks, which
  it counts too: the event's user_id is checked as the session's is), compared
  to the nearest whole statement. Straight to gunicorn: through
  nginx the sign-in rate limit would be what is measured;
- the admin's events list at --events events (10,000,000), unfiltered and
  filtered, through nginx as a superuser: median and p99 of 100 requests;
- purge_auth_events removing 1,000,000 expired events while another connection
  keeps inserting: its time, and the slowest insert meanwhile.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from urllib.parse import urlencode

import psycopg

from bench import admin_scale
from bench.report import Row, Target
from testsupport.servers import ROOT, Gunicorn, Nginx, child_env, manage

DATABASE = "bench_audit"
STUDENT, PASSWORD = "\\bench\\student", "bench pass phrase 2026"
SIGNIN_RATIO = Target(">=", 0.95)
EXTRA_STATEMENTS = Target("<=", 1)
EXTRA_ME_STATEMENTS = Target("<=", 0)
LIST_MS = Target("<", 150)
PURGE_S = Target("<", 30)
EXPIRED = 1_000_000


def run(context, args) -> dict:
    url = context.server.create_database(DATABASE)
    env = {**context.env, "DATABASE_URL": url}
    for command, name, password in (
        (["migrate", "--noinput", "-v0"], None, None),
        (["createsuperuser", "--noinput", "--username"], STUDENT, PASSWORD),
        (
            ["createsuperuser", "--noinput", "--username"],
            admin_scale.ADMIN,
            admin_scale.PASSWORD,
        ),
    ):
        extra = {"DJANGO_SUPERUSER_PASSWORD": password} if password else {}
        result = manage(*command, *([name] if name else []), env={**env, **extra})
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {command[0]}: {result.stderr}")
    report = {"signin": _sign_ins(context, env, args)}
    _seed(url, args.events)
    report["admin"] = _admin(context, env)
    report["purge"] = _purge(url, env)
    return report


def _sign_ins(context, env, args) -> dict:
    untrailed = {**env, "DJANGO_SETTINGS_MODULE": "bench.untrailed_settings"}
    apps = {
        "trail": Gunicorn(env),
        "no_trail": Gunicorn(untrailed, "bench.untrailed:application"),
    }
    rounds = []
    try:
        for number in range(args.rounds):
            names = list(apps)[number % 2 :] + list(apps)[: number % 2]
            result = {}
            for name in names:
                before = _statements(context.server)
                done = _sign_in_loop(apps[name], args.duration)
                after = _statements(context.server)
                result[name] = {
                    "per_second": done / args.duration,
                    "statements_per_signin": (after - before) / max(1, done),
                    "statements_per_me": _me_statements(context.server, apps[name]),
                }
            rounds.append(result)
            print(f"audit sign-ins round {number + 1} done", file=sys.stderr)
    finally:
        for app in apps.values():
            app.stop()
    summary = {
        name: {
            key: statistics.median(r[name][key] for r in rounds)
            for key in ("per_second", "statements_per_signin", "statements_per_me")
        }
        for name in apps
    }
    summary["ratio"] = statistics.median(
        r["trail"]["per_second"] / r["no_trail"]["per_second"] for r in rounds
    )
    summary["rounds"] = rounds
    return summary


def _sign_in_loop(app: Gunicorn, seconds: float, clients: int = 2) -> int:
    """Sign in as fast as `clients` threads can for `seconds`; return the count.

    Two, the hash slots of one worker: no sign-in is turned away (503), so the
    statements counted are those of sign-ins alone.
    """
    done, deadline = [], time.monotonic() + seconds

    def client():
        _, body, _ = app.get("/api/auth/csrf")
        token = json.loads(body)["csrf_token"]
        while time.monotonic() < deadline:
            status, _, _ = app.get(
                "/api/auth/login",
                method="POST",
                body=json.dumps({"username": STUDENT, "password": PASSWORD}),
                headers={
                    "Content-Type": "application/json",
                    "X-CSRFToken": token,
                    "Cookie": f"csrftoken={token}",
                },
            )
            if status == 200:
                done.append(1)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(done)


def _me_statements(server, app: Gunicorn, requests: int = 300) -> float:
    """Statements per signed-in GET /api/auth/me, one session, one at a time."""
    _, body, _ = app.get("/api/auth/csrf")
    token = json.loads(body)["csrf_token"]
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
    conn.request(
        "POST",
        "/api/auth/login",
        body=json.dumps({"username": STUDENT, "password": PASSWORD}),
        headers={
            "Content-Type": "application/json",
            "X-CSRFToken": token,
            "Cookie": f"csrftoken={token}",
        },
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    cookie = next(
        value.split(";")[0]
        for key, value in response.getheaders()
        if key.lower() == "set-cookie" and value.startswith("sessionid=")
    )
    before = _statements(server)
    for _ in range(requests):
        status, body, _ = app.get("/api/auth/me", headers={"Cookie": cookie})
        if status != 200:
            raise RuntimeError(f"/api/auth/me: {status} {body}")
    return (_statements(server) - before) / requests


def _statements(server) -> int:
    """Statements run in DATABASE so far, but the foreign-key checks' queries."""
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        (calls,) = conn.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s "
            "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s "
            "AND s.query NOT LIKE %s",
            [DATABASE, "% FOR KEY SHARE OF x"],
        ).fetchone()
    return int(calls)


def _seed(url: str, events: int) -> None:
    """`events` events over a year, sign-ins mostly, and the EXPIRED older ones."""
    kinds = "ARRAY['signin.succeeded','signin.succeeded','signin.failed','signout']"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = on")
        # Not one notice per event (audit migration 0004) for millions of rows.
        conn.execute("SET client_min_messages = warning")
        conn.execute(
            "INSERT INTO auth_events (kind, username, ip, user_agent, occurred_at) "
            f"SELECT ({kinds})[1 + mod(n, 4)], '\\bench\\user' || mod(n, 30000), "
            "'10.0.0.0'::inet + mod(n, 60000), 'browser/1.0', "
            "now() - (n::float / %s) * interval '365 days' "
            "FROM generate_series(1, %s) AS n",
            [events, events],
        )
        conn.execute(
            "INSERT INTO auth_events (kind, username, occurred_at) "
            "SELECT 'signin.failed', 'old', now() - interval '400 days' "
            "- n * interval '1 second' FROM generate_series(1, %s) AS n",
            [EXPIRED],
        )
        conn.execute("VACUUM (ANALYZE) auth_events")


def _admin(context, env) -> dict:
    pages = {
        "events list": "/admin/audit/authevent/",
        "events: failed sign-ins": "/admin/audit/authevent/?"
        + urlencode({"kind__exact": "signin.failed"}),
        "events: one user's name": "/admin/audit/authevent/?"
        + urlencode({"q": "\\bench\\user4242"}),
        "events: one address": "/admin/audit/authevent/?"
        + urlencode({"q": "10.0.16.42"}),
    }
    app = Gunicorn(env)
    nginx = Nginx(f"127.0.0.1:{app.port}")
    try:
        cookie = admin_scale._sign_in(nginx)
        return {
            name: admin_scale._time(nginx, context, DATABASE, path, cookie)
            for name, path in pages.items()
        }
    finally:
        nginx.stop()
        app.stop()


def _purge(url: str, env: dict) -> dict:
    """Purge the expired events while inserting one event every 10 ms."""
    slowest, stop = [0.0], threading.Event()

    def insert():
        with psycopg.connect(url, autocommit=True) as conn:
            while not stop.is_set():
                started = time.monotonic()
                conn.execute("INSERT INTO auth_events (kind) VALUES ('signin.failed')")
                slowest[0] = max(slowest[0], time.monotonic() - started)
                time.sleep(0.01)

    writer = threading.Thread(target=insert)
    writer.start()
    started = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "purge_auth_events"],
            cwd=ROOT,
            env=child_env(**env),
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        seconds = time.monotonic() - started
        stop.set()
        writer.join()
    if result.returncode != 0:
        raise RuntimeError(f"purge_auth_events: {result.stderr[-2000:]}")
    return {
        "seconds": seconds,
        "output": result.stdout.strip(),
        "slowest_insert_ms": slowest[0] * 1000,
    }


def rows(report: dict) -> list[Row]:
    signin, purge = report["signin"], report["purge"]
    trail, plain = signin["trail"], signin["no_trail"]
    extra = trail["statements_per_signin"] - plain["statements_per_signin"]
    extra_me = trail["statements_per_me"] - plain["statements_per_me"]
    out = [
        Row(
            "sign-ins/s with / without the audit trail",
            f"{trail['per_second']:.1f} / {plain['per_second']:.1f}",
        ),
        Row(
            "sign-ins: with / without the trail",
            f"{signin['ratio']:.2f}",
            SIGNIN_RATIO,
            signin["ratio"],
        ),
        Row(
            "statements per sign-in with / without the trail",
            f"{trail['statements_per_signin']:.2f} / "
            f"{plain['statements_per_signin']:.2f}",
        ),
        Row(
            "extra statements per sign-in, whole (measured)",
            f"{round(extra)} ({extra:.2f})",
            EXTRA_STATEMENTS,
            round(extra),
        ),
        Row(
            "statements per /api/auth/me with / without the trail",
            f"{trail['statements_per_me']:.2f} / {plain['statements_per_me']:.2f}",
        ),
        Row(
            "extra statements per /api/auth/me, whole (measured)",
            f"{round(extra_me)} ({extra_me:.2f})",
            EXTRA_ME_STATEMENTS,
            round(extra_me),
        ),
    ]
    for name, page in report["admin"].items():
        out.append(
            Row(
                f"admin {name} median / p99 ms ({page['statements']:.0f} statements)",
                f"{page['median_ms']:.1f} / {page['p99_ms']:.1f}",
                LIST_MS,
                page["median_ms"],
            )
        )
    out += [
        Row(
            f"purge_auth_events of {EXPIRED:,} expired events, s",
            f"{purge['seconds']:.1f}",
            PURGE_S,
            purge["seconds"],
        ),
        Row("slowest insert during the purge, ms", f"{purge['slowest_insert_ms']:.1f}"),
    ]
    return out
