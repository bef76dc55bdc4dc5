"""Lookups by username at 1,000,000 users: the login lookup's plan and server time,
and the plan of an exact lookup (a report, `filter(username=...)`)."""

from __future__ import annotations

import os
import random
import statistics
import time

import psycopg

from bench.report import Row, Target

LOGIN_INDEX = "idx_users_username_upper"
EXACT_INDEX = "idx_users_username"
SERVER_MS_P99 = Target("<", 1)
INDEX_SCAN = Target("==", 1)


def run(context, args) -> dict:
    """Seed `args.users` users, then time `args.lookups` lookups on the server."""
    os.environ.update(context.env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.db.models.query import MAX_GET_RESULTS

    from accounts.models import User

    started = time.monotonic()
    hashed = make_password("bench-password")  # one hash for all: bcrypt is slow
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO users (username, password_hash) "
            "SELECT '\\bench\\User' || n, %s FROM generate_series(1, %s) AS n",
            [hashed, args.users],
        )
        cursor.execute("ANALYZE users")
    seeded = time.monotonic() - started

    # The lookup of the authentication backend (UserManager.get_by_natural_key),
    # as Django writes it; `.get()` limits it to MAX_GET_RESULTS rows.
    def lookup_sql(name: str) -> tuple[str, tuple]:
        query = User.objects.filter(username__iexact=name)[:MAX_GET_RESULTS].query
        return query.sql_with_params()

    names = [
        f"\\BENCH\\USER{random.randint(1, args.users)}"  # noqa: S311
        for _ in range(args.lookups)
    ]
    times = []
    template, params = lookup_sql(names[0])
    exact, exact_params = User.objects.filter(username=names[0].lower())[
        :MAX_GET_RESULTS
    ].query.sql_with_params()
    with psycopg.connect(context.url) as conn:
        plan = [row[0] for row in conn.execute(f"EXPLAIN {template}", params)]
        exact_plan = [row[0] for row in conn.execute(f"EXPLAIN {exact}", exact_params)]
        for name in names:
            ((explained,),) = conn.execute(
                f"EXPLAIN (ANALYZE, FORMAT JSON) {template}", lookup_sql(name)[1]
            ).fetchall()
            times.append(explained[0]["Planning Time"] + explained[0]["Execution Time"])
    times.sort()
    return {
        "users": args.users,
        "seconds_to_seed": round(seeded, 1),
        "sql": template,
        "plan": "\n".join(plan),
        "index_scan": _uses(plan, LOGIN_INDEX),
        "exact_sql": exact,
        "exact_plan": "\n".join(exact_plan),
        "exact_index_scan": _uses(exact_plan, EXACT_INDEX),
        "lookups": args.lookups,
        "server_ms_mean": statistics.fmean(times),
        "server_ms_p99": times[int(len(times) * 0.99)],
    }


def rows(report: dict) -> list[Row]:
    def scan(used: bool) -> str:
        return "index scan" if used else "NOT an index scan"

    return [
        Row(
            f"login lookup plan ({report['users']:,} users)",
            f"{scan(report['index_scan'])} ({LOGIN_INDEX})",
            INDEX_SCAN,
            int(report["index_scan"]),
        ),
        Row(
            "exact username lookup plan",
            f"{scan(report['exact_index_scan'])} ({EXACT_INDEX})",
            INDEX_SCAN,
            int(report["exact_index_scan"]),
        ),
        Row(
            "login lookup server ms mean / p99",
            f"{report['server_ms_mean']:.3f} / {report['server_ms_p99']:.3f}",
            SERVER_MS_P99,
            report["server_ms_p99"],
        ),
    ]


def _uses(plan: list[str], index: str) -> bool:
    """Return whether `plan` scans `index` (by name, not a longer one's prefix)."""
    return any(f"Index Scan using {index} on" in line for line in plan)
