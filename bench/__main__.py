"""`make bench`: each scenario against a throwaway PostgreSQL 16, in one run.

- `bench.health`: /health with wrk against the HTTP ceiling (a bare WSGI app under
  the same gunicorn settings) and the database ceiling (pgbench running SELECT 1),
  statements per probe, new server connections, gunicorn's memory;
- `bench.session_me`: a signed-in /api/auth/me through nginx, with and without
  the session limits: statements per request and throughput;
- `bench.signin_flood`: a sign-in flood: probes, a legitimate user, lockouts and
  hashing throughput under it;
- `bench.login_lookup`: the case-insensitive login lookup at 1,000,000 users;
- `bench.admin_scale`: the admin's pages at 1,000,000 users;
- `bench.provisioning`: import_users at 100,000 and 1,000,000 rows against COPY;
- `bench.audit_trail`: sign-ins with and without the trail, the events list at
  10,000,000 events, purge_auth_events of 1,000,000;
- `bench.directory_signin`: directory sign-in against Samba's AD DC against a
  local one, and local sign-ins and /health with the directory frozen.

Prints one table and writes every figure, with the settings, to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import types
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench import (
    admin_scale,
    audit_trail,
    directory_signin,
    health,
    login_lookup,
    mfa,
    provisioning,
    session_me,
    signin_flood,
)
from bench.report import print_table
from embedded_postgres import EmbeddedPostgres
from testsupport.servers import ROOT, SECRET_KEY, manage

SCENARIOS = {
    "health": health,
    "session_me": session_me,
    "signin_flood": signin_flood,
    "login_lookup": login_lookup,
    "admin_scale": admin_scale,
    "provisioning": provisioning,
    "audit_trail": audit_trail,
    "directory_signin": directory_signin,
    "mfa": mfa,
}
DATABASE = "bench"
ENV = {
    "DJANGO_SECRET_KEY": SECRET_KEY,
    "DJANGO_DEBUG": "false",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "DJANGO_LOG_LEVEL": "WARNING",
    # Its admins and students sign in with a password (bench.mfa times the rest).
    "DJANGO_MFA_REQUIRED_FOR": "none",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--duration", type=int, default=8, help="seconds per run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up")
    # Keep-alive connections stay with the worker that accepted them, so a run
    # sometimes lands unevenly on the 2 workers: several rounds, and the median.
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--flood-duration", type=int, default=30)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument(
        "--only", choices=SCENARIOS, action="append", help="run only these scenarios"
    )
    args = parser.parse_args(argv)

    wrk = shutil.which("wrk")
    if wrk is None:
        print("make bench needs wrk: apt-get install wrk", file=sys.stderr)
        return 1

    report = {"settings": _settings(args)}
    with EmbeddedPostgres.throwaway(prefix="pg-bench-") as server:
        url = server.create_database(DATABASE)
        # Statements per database, read from `postgres` (scenarios count them).
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        env = {**ENV, "DATABASE_URL": url}
        result = manage("migrate", "--noinput", "-v0", env=env)
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            return 1
        context = types.SimpleNamespace(
            server=server, database=DATABASE, url=url, env=env, wrk=wrk
        )
        for name in args.only or SCENARIOS:
            report[name] = SCENARIOS[name].run(context, args)

    print_table(
        [
            row
            for name in SCENARIOS
            if name in report
            for row in SCENARIOS[name].rows(report[name])
        ]
    )
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nWritten to {path.relative_to(ROOT)}")
    return 0


def _settings(args: argparse.Namespace) -> dict:
    return {
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "rounds": args.rounds,
        "connections": args.connections,
        "wrk_threads": 2,
        "gunicorn": "gunicorn.conf.py: 2 workers x 3 threads (gthread), probe port",
        "db_pool": "min 5, max 15 per worker",
        "machine": f"{os.cpu_count()} cores",
    }


if __name__ == "__main__":
    sys.exit(main())
