"""The admin at 1,000,000 users (#12): the pages staff use, timed with their SQL.

Seeds users up to --users (0.1% blocked) unless an earlier scenario did, signs in
as a superuser, and requests each page 100 times after a warm-up: the client's
median and p99, and the server-side time of the page's SQL (pg_stat_statements).
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
from urllib.parse import urlencode

import psycopg

from bench.report import Row, Target, percentile
from bench.support import Gunicorn, manage

ADMIN = "\\bench\\root"
PASSWORD = "bench admin pass 1"
TIMES = 100  # a p99 of 20 samples would be their largest
MEDIAN_MS = Target("<", 50)
P99_MS = Target("<", 100)


def run(context, args) -> dict:
    with psycopg.connect(context.url, autocommit=True) as conn:
        # The throwaway server commits asynchronously; until a commit's WAL is
        # flushed, VACUUM cannot mark its rows visible to all, and would leave
        # the visibility map unset (index-only scans reading the table).
        conn.execute("SET synchronous_commit = on")
        (count,) = conn.execute("SELECT count(*) FROM users").fetchone()
        if count < args.users:
            hashed = conn.execute("SELECT password_hash FROM users LIMIT 1").fetchone()
            conn.execute(
                "INSERT INTO users (username, password_hash) "
                "SELECT '\\bench\\User' || n, %s FROM generate_series(%s, %s) AS n",
                [hashed[0] if hashed else "!", count + 1, args.users],
            )
        # 0.1% blocked: every thousandth seeded user. Only those rows change:
        # rewriting every row would leave a million dead ones behind.
        conn.execute(
            "UPDATE users SET is_blocked = true "
            "WHERE right(username, 3) = '000' AND NOT is_blocked"
        )
        # The steady state of a table autovacuum keeps: visibility map set,
        # statistics current, GIN pending list merged.
        conn.execute("VACUUM (ANALYZE) users")
        (blocked,) = conn.execute(
            "SELECT count(*) FROM users WHERE is_blocked"
        ).fetchone()
        (user_id,) = conn.execute(
            "SELECT id FROM users WHERE username = '\\bench\\User777777'"
        ).fetchone()
    result = manage(
        "createsuperuser",
        "--noinput",
        "--username",
        ADMIN,
        env={**context.env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
    )
    assert result.returncode == 0, result.stderr
    pages = {
        "users list": "/admin/accounts/user/",
        "search user4242": "/admin/accounts/user/?" + urlencode({"q": "user4242"}),
        "search one exact username": "/admin/accounts/user/?"
        + urlencode({"q": "\\bench\\User777777"}),
        "filter blocked": "/admin/accounts/user/?is_blocked__exact=1",
        "page 500 of the list": "/admin/accounts/user/?p=500",
        "one user's change page": f"/admin/accounts/user/{user_id}/change/",
    }
    app = Gunicorn(context.env)
    try:
        cookie = _sign_in(app)
        figures = {
            name: _time(app, context, path, cookie) for name, path in pages.items()
        }
    finally:
        app.stop()
    return {"users": max(count, args.users), "blocked": blocked, "pages": figures}


def rows(report: dict) -> list[Row]:
    out = []
    for name, page in report["pages"].items():
        out.append(
            Row(
                f"admin: {name} median / p99 ms (SQL)",
                f"{page['median_ms']:.1f} / {page['p99_ms']:.1f}"
                f" ({page['sql_ms']:.1f}), {page['status']}",
                MEDIAN_MS,
                page["median_ms"] if page["status"] == 200 else float("inf"),
            )
        )
    worst = max(page["p99_ms"] for page in report["pages"].values())
    out.append(
        Row(
            f"admin: worst p99 ms ({report['users']:,} users)",
            f"{worst:.1f}",
            P99_MS,
            worst,
        )
    )
    return out


def _request(app, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response
    finally:
        conn.close()


def _sign_in(app) -> str:
    response = _request(app, "GET", "/api/auth/csrf")
    csrf = response.getheader("Set-Cookie").split(";")[0]
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=30)
    conn.request("GET", "/api/auth/csrf", headers={"Cookie": csrf})
    token = json.loads(conn.getresponse().read())["csrf_token"]
    conn.close()
    response = _request(
        app,
        "POST",
        "/api/auth/login",
        json.dumps({"username": ADMIN, "password": PASSWORD}),
        {"Content-Type": "application/json", "X-CSRFToken": token, "Cookie": csrf},
    )
    assert response.status == 200, response.status
    session = [
        header.split(";")[0]
        for header in response.headers.get_all("Set-Cookie")
        if header.startswith("sessionid=")
    ]
    return session[0]


def _time(app, context, path, cookie) -> dict:
    headers = {"Cookie": cookie}
    for _ in range(2):
        status = _request(app, "GET", path, headers=headers).status
    before = _sql_ms(context)
    seconds = []
    for _ in range(TIMES):
        started = time.monotonic()
        status = _request(app, "GET", path, headers=headers).status
        seconds.append(time.monotonic() - started)
    sql = (_sql_ms(context) - before) / TIMES
    return {
        "status": status,
        "median_ms": statistics.median(seconds) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "max_ms": max(seconds) * 1000,
        "sql_ms": sql,
    }


def _sql_ms(context) -> float:
    with psycopg.connect(context.server.url("postgres"), autocommit=True) as conn:
        (total,) = conn.execute(
            "SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements s "
            "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
            [context.database],
        ).fetchone()
    return float(total)
