"""The admin at 1,000,000 users and at 10,000: the pages staff use, with their SQL.

Seeds users up to --users (0.1% blocked) unless an earlier scenario did, and
10,000 in a database of their own; signs in as a superuser through nginx in front
of gunicorn (the production shape), and requests each page 100 times after a
warm-up: the client's median and p99, the server-side time of the page's SQL and
its statements (pg_stat_statements). The list and a user's change page must cost
about the same at both sizes, with the same statements.
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
from urllib.parse import urlencode

import psycopg

from bench.report import Row, Target, percentile
from testsupport.servers import Gunicorn, Nginx, manage

ADMIN = "\\bench\\root"
PASSWORD = "bench admin pass 1"
TIMES = 100  # a p99 of 20 samples would be their largest
SMALL = 10_000
MEDIAN_MS = Target("<", 150)
SCALE_RATIO = Target("<=", 1.5)
SAME = Target("==", 0)
# Pages whose cost must not grow with the table.
FLAT = ("users list", "one user's change page")


def run(context, args) -> dict:
    small_url = context.server.create_database(f"{context.database}_small")
    small_env = {**context.env, "DATABASE_URL": small_url}
    result = manage("migrate", "--noinput", "-v0", env=small_env)
    assert result.returncode == 0, result.stderr
    sizes = {}
    for users, url, env, database in (
        (SMALL, small_url, small_env, f"{context.database}_small"),
        (args.users, context.url, context.env, context.database),
    ):
        sizes[str(users)] = _measure(context, users, url, env, database)
    return {"large": str(args.users), "small": str(SMALL), "sizes": sizes}


def _seed(url: str, users: int) -> tuple[int, int, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        # The throwaway server commits asynchronously; until a commit's WAL is
        # flushed, VACUUM cannot mark its rows visible to all, and would leave
        # the visibility map unset (index-only scans reading the table).
        conn.execute("SET synchronous_commit = on")
        (count,) = conn.execute("SELECT count(*) FROM users").fetchone()
        if count < users:
            hashed = conn.execute("SELECT password_hash FROM users LIMIT 1").fetchone()
            conn.execute(
                "INSERT INTO users (username, password_hash) "
                "SELECT '\\bench\\User' || n, %s "
                "FROM generate_series(%s::int, %s::int) AS n",
                [hashed[0] if hashed else "!", count + 1, users],
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
            "SELECT id FROM users WHERE username = '\\bench\\User7777'"
        ).fetchone()
    return max(count, users), blocked, str(user_id)


def _measure(context, users, url, env, database) -> dict:
    count, blocked, user_id = _seed(url, users)
    result = manage(
        "createsuperuser",
        "--noinput",
        "--username",
        ADMIN,
        env={**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
    )
    assert result.returncode == 0 or "already taken" in result.stderr, result.stderr
    pages = {
        "users list": "/admin/accounts/user/",
        "search user4242": "/admin/accounts/user/?" + urlencode({"q": "user4242"}),
        # Folded as the search folds it: the same 11 users as user4242.
        "search ÜSER4242 (any accent)": "/admin/accounts/user/?"
        + urlencode({"q": "ÜSER4242"}),
        "search one exact username": "/admin/accounts/user/?"
        + urlencode({"q": "\\bench\\User7777"}),
        "filter blocked": "/admin/accounts/user/?is_blocked__exact=1",
        "page 500 of the list": "/admin/accounts/user/?p=500",
        "one user's change page": f"/admin/accounts/user/{user_id}/change/",
    }
    app = Gunicorn(env)
    nginx = Nginx(f"127.0.0.1:{app.port}")
    try:
        cookie = _sign_in(nginx)
        figures = {
            name: _time(nginx, context, database, path, cookie)
            for name, path in pages.items()
        }
    finally:
        nginx.stop()
        app.stop()
    return {"users": count, "blocked": blocked, "pages": figures}


def rows(report: dict) -> list[Row]:
    large = report["sizes"][report["large"]]
    small = report["sizes"][report["small"]]
    out = []
    for name, page in large["pages"].items():
        out.append(
            Row(
                f"admin: {name} median / p99 ms (SQL), {page['statements']:.0f} stmts",
                f"{page['median_ms']:.1f} / {page['p99_ms']:.1f}"
                f" ({page['sql_ms']:.1f}), {page['status']}",
                MEDIAN_MS,
                page["median_ms"] if page["status"] == 200 else float("inf"),
            )
        )
    for name in FLAT:
        big, little = large["pages"][name], small["pages"][name]
        ratio = big["median_ms"] / little["median_ms"]
        out += [
            Row(
                f"admin: {name}, {large['users']:,} / {small['users']:,} users",
                f"{big['median_ms']:.1f} / {little['median_ms']:.1f} = {ratio:.2f}",
                SCALE_RATIO,
                ratio,
            ),
            Row(
                f"admin: {name}, statements at both sizes",
                f"{big['statements']:.2f} / {little['statements']:.2f}",
                SAME,
                # A session's last_seen_at is written once a minute: a fraction.
                abs(round(big["statements"]) - round(little["statements"])),
            ),
        ]
    return out


def _request(nginx, method, path, body=None, headers=None):
    conn = http.client.HTTPSConnection(
        "127.0.0.1", nginx.port, timeout=30, context=nginx.tls_context()
    )
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.body = response.read()
        return response
    finally:
        conn.close()


def _sign_in(nginx) -> str:
    response = _request(nginx, "GET", "/api/auth/csrf")
    csrf = response.getheader("Set-Cookie").split(";")[0]
    token = json.loads(response.body)["csrf_token"]
    response = _request(
        nginx,
        "POST",
        "/api/auth/login",
        json.dumps({"username": ADMIN, "password": PASSWORD}),
        {
            "Content-Type": "application/json",
            "X-CSRFToken": token,
            "Cookie": csrf,
            "Origin": nginx.origin,
        },
    )
    assert response.status == 200, response.status
    session = [
        header.split(";")[0]
        for header in response.headers.get_all("Set-Cookie")
        if header.startswith("sessionid=")
    ]
    return session[0]


def _time(nginx, context, database, path, cookie) -> dict:
    headers = {"Cookie": cookie}
    for _ in range(2):
        status = _request(nginx, "GET", path, headers=headers).status
    before = _sql(context, database)
    seconds = []
    for _ in range(TIMES):
        started = time.monotonic()
        status = _request(nginx, "GET", path, headers=headers).status
        seconds.append(time.monotonic() - started)
    after = _sql(context, database)
    return {
        "status": status,
        "median_ms": statistics.median(seconds) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "max_ms": max(seconds) * 1000,
        "sql_ms": (after[0] - before[0]) / TIMES,
        "statements": (after[1] - before[1]) / TIMES,
    }


def _sql(context, database) -> tuple[float, int]:
    """The server-side time and count of the statements run in `database` so far."""
    with psycopg.connect(context.server.url("postgres"), autocommit=True) as conn:
        (total, calls) = conn.execute(
            "SELECT coalesce(sum(total_exec_time), 0), coalesce(sum(calls), 0) "
            "FROM pg_stat_statements s "
            "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
            [database],
        ).fetchone()
    return float(total), int(calls)
