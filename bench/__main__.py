"""`make bench`: /health against its ceilings, and the login lookup at 1M users.

Starts a throwaway embedded PostgreSQL 16 and the app under its production
gunicorn.conf.py, measures in one run (rounds alternate, the median is reported):

- /health with wrk, against the HTTP ceiling (a bare WSGI app under the same gunicorn
  settings) and the database ceiling (pgbench running SELECT 1);
- PostgreSQL statements per /health and new server connections during the run;
- the case-insensitive login lookup the app uses, at 1,000,000 users: its plan and
  its server-side time over 10,000 random usernames.

Prints one table and writes every figure, with the settings, to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from embedded_postgres import EmbeddedPostgres
from embedded_postgres.server import binaries, free_port

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
USERS = 1_000_000
LOOKUPS = 10_000
DATABASE = "bench"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--duration", type=int, default=8, help="seconds per run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up")
    # Keep-alive connections stay with the worker that accepted them, so a run
    # sometimes lands unevenly on the 2 workers: several rounds, and the median.
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--lookups", type=int, default=LOOKUPS)
    args = parser.parse_args(argv)

    wrk = shutil.which("wrk")
    if wrk is None:
        print("make bench needs wrk: apt-get install wrk", file=sys.stderr)
        return 1

    root = Path(tempfile.mkdtemp(prefix="pg-bench-"))
    root.chmod(0o755)
    server = EmbeddedPostgres(root, durable=False).start()
    apps: list[Gunicorn] = []
    try:
        url = server.create_database(DATABASE)
        _prepare_database(server, url)
        env = {
            "DATABASE_URL": url,
            "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijkl",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_LOG_LEVEL": "WARNING",
        }
        _manage(env, "migrate", "--noinput", "-v0")
        app = Gunicorn(env, None)
        bare = Gunicorn(env, "bench.bare:application")
        apps += [app, bare]
        for target in apps:
            _wrk(wrk, target.url("/health"), args.warmup, args.connections)

        rounds = []
        for number in range(args.rounds):
            # Alternate the order so that neither side always runs on a warmer box.
            order = [("health", app), ("ceiling", bare)]
            if number % 2:
                order.reverse()
            result = {}
            for name, target in order:
                if name == "health":
                    before = _server_counters(server, url)
                result[name] = _wrk(
                    wrk, target.url("/health"), args.duration, args.connections
                )
                if name == "health":
                    after = _server_counters(server, url)
                    result["statements"] = after["statements"] - before["statements"]
                    result["connections"] = after["connections"] - before["connections"]
                    result["rss_mib"] = app.rss_mib()
            result["pgbench"] = _pgbench(server, args.duration, args.connections)
            rounds.append(result)
            print(f"round {number + 1} of {args.rounds} done", file=sys.stderr)

        lookup = _login_lookup(server, url, env, args.users, args.lookups)
    finally:
        for target in apps:
            target.stop()
        server.remove()

    report = _report(rounds, lookup, args)
    _print_table(report)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    path = out / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nWritten to {path.relative_to(ROOT)}")
    return 0


class Gunicorn:
    """The project's gunicorn.conf.py serving `app` (default: the project)."""

    def __init__(self, env: dict[str, str], app: str | None) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
        self.process = subprocess.Popen(
            [*command, *([app] if app else [])],
            cwd=ROOT,
            env={**os.environ, **env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._answers():
                return
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def rss_mib(self) -> float:
        pids = [self.process.pid, *_children(self.process.pid)]
        return sum(_rss_kib(pid) for pid in pids) / 1024

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def _answers(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(self.url("/health/live"), timeout=2):  # noqa: S310
                return True
        except OSError:
            return False


def _prepare_database(server: EmbeddedPostgres, url: str) -> None:
    # Read from the postgres database, so that reading adds nothing to the count.
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        # Every new server connection is logged: the count during a run is exact.
        conn.execute("ALTER SYSTEM SET log_connections = on")
        conn.execute("SELECT pg_reload_conf()")


def _server_counters(server: EmbeddedPostgres, url: str) -> dict[str, int]:
    """Statements run in the bench database, and connections made, so far."""
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        (statements,) = conn.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s "
            "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
            [DATABASE],
        ).fetchone()
    log = server.log.read_text(errors="replace")
    connections = len(
        re.findall(rf"connection authorized: user=\S+ database={DATABASE}\b", log)
    )
    return {"statements": int(statements), "connections": connections}


def _wrk(wrk: str, url: str, seconds: int, connections: int) -> dict:
    result = subprocess.run(
        [
            wrk,
            f"--connections={connections}",
            "--threads=2",
            f"--duration={seconds}s",
            "--timeout=5s",
            f"--script={HERE / 'report.lua'}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def _pgbench(server: EmbeddedPostgres, seconds: int, connections: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "select1.sql"
        script.write_text("SELECT 1;\n")
        result = subprocess.run(
            [
                binaries() / "pgbench",
                "--no-vacuum",
                f"--client={connections}",
                "--jobs=2",
                f"--time={seconds}",
                f"--file={script}",
                "--protocol=extended",
                "--log",
                f"--log-prefix={folder}/log",
                "--host=127.0.0.1",
                f"--port={server.port}",
                "--username=counseling",
                DATABASE,
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=folder,
            env={**os.environ, "PGPASSWORD": server.password},
        )
        latencies = sorted(
            int(line.split()[2])
            for log in Path(folder).glob("log*")
            for line in log.read_text().splitlines()
        )
    tps = float(re.search(r"tps = ([\d.]+)", result.stdout).group(1))
    return {
        "tps": tps,
        "p50_us": latencies[len(latencies) // 2],
        "p99_us": latencies[int(len(latencies) * 0.99)],
    }


def _login_lookup(
    server: EmbeddedPostgres, url: str, env: dict, users: int, lookups: int
) -> dict:
    os.environ.update(env)
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
            [hashed, users],
        )
        cursor.execute("ANALYZE users")
    seeded = time.monotonic() - started

    # The lookup of the authentication backend (UserManager.get_by_natural_key),
    # as Django writes it; `.get()` limits it to MAX_GET_RESULTS rows.
    def lookup_sql(name: str) -> tuple[str, tuple]:
        query = User.objects.filter(username__iexact=name)[:MAX_GET_RESULTS].query
        return query.sql_with_params()

    names = [f"\\BENCH\\USER{random.randint(1, users)}" for _ in range(lookups)]  # noqa: S311
    times = []
    template, _ = lookup_sql(names[0])
    with psycopg.connect(url) as conn:
        plan = conn.execute(f"EXPLAIN {template}", lookup_sql(names[0])[1]).fetchall()
        for name in names:
            ((explained,),) = conn.execute(
                f"EXPLAIN (ANALYZE, FORMAT JSON) {template}", lookup_sql(name)[1]
            ).fetchall()
            times.append(explained[0]["Planning Time"] + explained[0]["Execution Time"])
    times.sort()
    return {
        "users": users,
        "seconds_to_seed": round(seeded, 1),
        "sql": template,
        "plan": "\n".join(row[0] for row in plan),
        "index_scan": "idx_users_username" in " ".join(row[0] for row in plan),
        "lookups": lookups,
        "server_ms_mean": statistics.fmean(times),
        "server_ms_p99": times[int(len(times) * 0.99)],
    }


def _report(rounds: list[dict], lookup: dict, args: argparse.Namespace) -> dict:
    def median(key, field):
        return statistics.median(r[key][field] for r in rounds)

    health_rps, ceiling_rps = median("health", "rps"), median("ceiling", "rps")
    health_p99, ceiling_p99 = median("health", "p99_us"), median("ceiling", "p99_us")
    requests = statistics.median(r["health"]["requests"] for r in rounds)
    statements = statistics.median(
        r["statements"] / r["health"]["requests"] for r in rounds
    )
    return {
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "connections": args.connections,
            "wrk_threads": 2,
            "gunicorn": "gunicorn.conf.py defaults: 2 gthread workers x 2 threads",
            "db_pool": "min 5, max 15 per worker",
            "machine": f"{os.cpu_count()} cores",
        },
        "health": {
            "rps": health_rps,
            "p50_ms": median("health", "p50_us") / 1000,
            "p99_ms": health_p99 / 1000,
            "non_2xx": sum(r["health"]["non_2xx"] for r in rounds),
            "socket_errors": sum(r["health"]["socket_errors"] for r in rounds),
            "requests_per_run": requests,
            "statements_per_request": statements,
            "new_connections": sum(r["connections"] for r in rounds),
            "rss_mib": statistics.median(r["rss_mib"] for r in rounds),
        },
        "http_ceiling": {
            "rps": ceiling_rps,
            "p50_ms": median("ceiling", "p50_us") / 1000,
            "p99_ms": ceiling_p99 / 1000,
            "non_2xx": sum(r["ceiling"]["non_2xx"] for r in rounds),
            "socket_errors": sum(r["ceiling"]["socket_errors"] for r in rounds),
        },
        "db_ceiling": {
            "tps": median("pgbench", "tps"),
            "p50_ms": median("pgbench", "p50_us") / 1000,
            "p99_ms": median("pgbench", "p99_us") / 1000,
        },
        "ratios": {
            "health_rps_over_http_ceiling": health_rps / ceiling_rps,
            "health_p99_over_http_ceiling_p99": health_p99 / ceiling_p99,
            "health_rps_over_db_ceiling": health_rps / median("pgbench", "tps"),
        },
        "login_lookup": lookup,
        "rounds": rounds,
    }


def _print_table(report: dict) -> None:
    health, http, db = report["health"], report["http_ceiling"], report["db_ceiling"]
    ratios, lookup = report["ratios"], report["login_lookup"]
    rows = [
        ("/health req/s", f"{health['rps']:.0f}", "", ""),
        ("HTTP ceiling req/s", f"{http['rps']:.0f}", "", ""),
        (
            "/health / HTTP ceiling",
            f"{ratios['health_rps_over_http_ceiling']:.2f}",
            ">= 0.50",
            _ok(ratios["health_rps_over_http_ceiling"] >= 0.5),
        ),
        (
            "/health p50 / p99 ms",
            f"{health['p50_ms']:.2f} / {health['p99_ms']:.2f}",
            "",
            "",
        ),
        (
            "ceiling p50 / p99 ms",
            f"{http['p50_ms']:.2f} / {http['p99_ms']:.2f}",
            "",
            "",
        ),
        (
            "/health p99 / ceiling p99",
            f"{ratios['health_p99_over_http_ceiling_p99']:.2f}",
            "<= 3",
            _ok(ratios["health_p99_over_http_ceiling_p99"] <= 3),
        ),
        (
            "/health non-2xx, socket errors",
            f"{health['non_2xx']}, {health['socket_errors']}",
            "0, 0",
            _ok(health["non_2xx"] == health["socket_errors"] == 0),
        ),
        ("DB ceiling (pgbench SELECT 1) tps", f"{db['tps']:.0f}", "", ""),
        ("pgbench p50 / p99 ms", f"{db['p50_ms']:.2f} / {db['p99_ms']:.2f}", "", ""),
        (
            "statements per /health",
            f"{health['statements_per_request']:.3f}",
            "1",
            _ok(round(health["statements_per_request"], 2) == 1),
        ),
        (
            "new connections during runs",
            str(health["new_connections"]),
            "0",
            _ok(health["new_connections"] == 0),
        ),
        (
            "gunicorn RSS, master + 2 workers",
            f"{health['rss_mib']:.0f} MiB",
            "< 150",
            _ok(health["rss_mib"] < 150),
        ),
        (
            f"login lookup plan ({lookup['users']:,} users)",
            "index scan" if lookup["index_scan"] else "NOT an index scan",
            "index",
            _ok(lookup["index_scan"]),
        ),
        (
            "login lookup server ms mean / p99",
            f"{lookup['server_ms_mean']:.3f} / {lookup['server_ms_p99']:.3f}",
            "p99 < 1",
            _ok(lookup["server_ms_p99"] < 1),
        ),
    ]
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    print()
    for row in rows:
        print(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            )
        )


def _ok(passed: bool) -> str:
    return "ok" if passed else "MISSED"


def _manage(env: dict, *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
    )


def _children(parent: int) -> list[int]:
    path = Path(f"/proc/{parent}/task/{parent}/children")
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
