"""/health under wrk against its HTTP ceilings and its database ceiling (pgbench).

In production nginx is in front (docker/nginx): /health through Debian's nginx
running the repository's template, against the bare app under the same gunicorn
settings through the same nginx. Directly: two HTTP ceilings, the bare app under
the project's gunicorn settings, and under gunicorn's `sync` worker, the fastest
bare configuration on a small machine.
/health is also measured through PgBouncer (Debian's, with the compose file's
settings) when it is installed. Rounds rotate the order of the runs, so that none
always runs on a warmer machine; the median of each figure is reported.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

from bench.report import Row, Target
from embedded_postgres.server import SUPERUSER, binaries
from testsupport.servers import Gunicorn, Nginx, PgBouncer

HERE = Path(__file__).resolve().parent
RPS_RATIO = Target(">=", 0.50)
BEST_RPS_RATIO = Target(">=", 0.60)
NGINX_RPS_RATIO = Target(">=", 0.80)
P99_RATIO = Target("<=", 3)
ERRORS = Target("==", 0)
STATEMENTS = Target("==", 1)
NEW_CONNECTIONS = Target("==", 0)
RSS_MIB = Target("<", 150)


def run(context, args) -> dict:
    """Measure /health and the ceilings; return the figures of the report."""
    server, database = context.server, context.database
    _log_connections(server)
    bouncer = PgBouncer(server) if shutil.which("pgbouncer") else None
    targets = {
        "health": Gunicorn(context.env),
        "ceiling": Gunicorn(context.env, "bench.bare:application"),
        "sync_ceiling": Gunicorn(
            context.env, "bench.bare:application", options=("--worker-class=sync",)
        ),
    }
    if bouncer is not None:
        # A database of its own: PgBouncer's server connections are not the
        # direct app's, whose new connections are counted.
        server.create_database(f"{database}_pgbouncer")
        targets["pgbouncer"] = Gunicorn(
            {
                **context.env,
                "DATABASE_URL": bouncer.url(f"{database}_pgbouncer"),
            }
        )
    proxies = {
        f"{name}_nginx": Nginx(f"127.0.0.1:{targets[name].port}")
        for name in ("health", "ceiling")
    }
    urls = {name: target.url("/health") for name, target in targets.items()}
    urls |= {name: proxy.url("/health") for name, proxy in proxies.items()}
    try:
        for url in urls.values():
            wrk(context.wrk, url, args.warmup, args.connections)
        rounds = []
        for number in range(args.rounds):
            names = list(urls)
            order = names[number % len(names) :] + names[: number % len(names)]
            result = {}
            for name in order:
                before = server_counters(server, database)
                result[name] = wrk(
                    context.wrk, urls[name], args.duration, args.connections
                )
                if name == "health":
                    after = server_counters(server, database)
                    result["statements"] = after["statements"] - before["statements"]
                    result["connections"] = after["connections"] - before["connections"]
                    result["rss_mib"] = targets["health"].rss_mib()
            result["pgbench"] = _pgbench(server, database, args)
            rounds.append(result)
            print(f"round {number + 1} of {args.rounds} done", file=sys.stderr)
    finally:
        for target in [*proxies.values(), *targets.values()]:
            target.stop()
        if bouncer is not None:
            bouncer.stop()
    return _summary(rounds)


def rows(report: dict) -> list[Row]:
    health, http, db = report["health"], report["http_ceiling"], report["db_ceiling"]
    sync = report["sync_ceiling"]
    ratios = report["ratios"]
    rps_ratio = ratios["health_rps_over_http_ceiling"]
    p99_ratio = ratios["health_p99_over_http_ceiling_p99"]
    best_rps = ratios["health_rps_over_best_ceiling"]
    best_p99 = ratios["health_p99_over_best_ceiling_p99"]
    errors = health["non_2xx"] + health["socket_errors"]
    statements = round(health["statements_per_request"], 2)
    bouncer = report.get("pgbouncer")
    nginx, nginx_ceiling = report["health_nginx"], report["ceiling_nginx"]
    nginx_ratio = ratios["nginx_health_rps_over_nginx_ceiling"]
    nginx_errors = nginx["non_2xx"] + nginx["socket_errors"]
    return [
        Row("/health through nginx req/s", f"{nginx['rps']:.0f}"),
        Row("bare app through nginx req/s", f"{nginx_ceiling['rps']:.0f}"),
        Row(
            "/health / bare app, both through nginx",
            f"{nginx_ratio:.2f}",
            NGINX_RPS_RATIO,
            nginx_ratio,
        ),
        Row(
            "/health through nginx p50 / p99 ms",
            f"{nginx['p50_ms']:.2f} / {nginx['p99_ms']:.2f}",
        ),
        Row(
            "/health through nginx non-2xx + socket errors",
            f"{nginx['non_2xx']} + {nginx['socket_errors']}",
            ERRORS,
            nginx_errors,
        ),
        Row("/health req/s (direct)", f"{health['rps']:.0f}"),
        Row("HTTP ceiling req/s (gunicorn.conf.py)", f"{http['rps']:.0f}"),
        Row("HTTP ceiling req/s (sync worker)", f"{sync['rps']:.0f}"),
        Row("/health / HTTP ceiling", f"{rps_ratio:.2f}", RPS_RATIO, rps_ratio),
        Row("/health / best ceiling", f"{best_rps:.2f}", BEST_RPS_RATIO, best_rps),
        Row("/health p50 / p99 ms", f"{health['p50_ms']:.2f} / {health['p99_ms']:.2f}"),
        Row("ceiling p50 / p99 ms", f"{http['p50_ms']:.2f} / {http['p99_ms']:.2f}"),
        Row(
            "sync ceiling p50 / p99 ms",
            f"{sync['p50_ms']:.2f} / {sync['p99_ms']:.2f}",
        ),
        Row("/health p99 / ceiling p99", f"{p99_ratio:.2f}", P99_RATIO, p99_ratio),
        Row("/health p99 / best ceiling p99", f"{best_p99:.2f}", P99_RATIO, best_p99),
        Row(
            "/health non-2xx + socket errors",
            f"{health['non_2xx']} + {health['socket_errors']}",
            ERRORS,
            errors,
        ),
        Row(
            "/health through PgBouncer req/s",
            f"{bouncer['rps']:.0f}" if bouncer else "not run: pgbouncer not installed",
        ),
        Row(
            "  through PgBouncer p50 / p99 ms",
            f"{bouncer['p50_ms']:.2f} / {bouncer['p99_ms']:.2f}" if bouncer else "-",
        ),
        Row(
            "  through PgBouncer non-2xx + socket errors",
            f"{bouncer['non_2xx']} + {bouncer['socket_errors']}" if bouncer else "-",
            ERRORS if bouncer else None,
            bouncer["non_2xx"] + bouncer["socket_errors"] if bouncer else None,
        ),
        Row("DB ceiling (pgbench SELECT 1) tps", f"{db['tps']:.0f}"),
        Row("pgbench p50 / p99 ms", f"{db['p50_ms']:.2f} / {db['p99_ms']:.2f}"),
        Row("statements per /health", f"{statements:.2f}", STATEMENTS, statements),
        Row(
            "new connections during runs",
            str(health["new_connections"]),
            NEW_CONNECTIONS,
            health["new_connections"],
        ),
        Row(
            "gunicorn RSS, master + 2 workers",
            f"{health['rss_mib']:.0f} MiB",
            RSS_MIB,
            health["rss_mib"],
        ),
    ]


def _log_connections(server) -> None:
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        # Every new server connection is logged: the count during a run is exact.
        conn.execute("ALTER SYSTEM SET log_connections = on")
        conn.execute("SELECT pg_reload_conf()")


def server_counters(server, database: str) -> dict[str, int]:
    """Statements run in the bench database, and connections made, so far."""
    # Read from the postgres database, so that reading adds nothing to the count.
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        (statements,) = conn.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s "
            "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
            [database],
        ).fetchone()
    log = server.log.read_text(errors="replace")
    connections = len(
        re.findall(rf"connection authorized: user=\S+ database={database}\b", log)
    )
    return {"statements": int(statements), "connections": connections}


def wrk(
    wrk: str, url: str, seconds: int, connections: int, headers: list[str] = ()
) -> dict:
    """Run wrk against `url`; return its figures (bench/report.lua) and req/s."""
    result = subprocess.run(
        [
            wrk,
            f"--connections={connections}",
            "--threads=2",
            f"--duration={seconds}s",
            "--timeout=5s",
            f"--script={HERE / 'report.lua'}",
            *(f"--header={header}" for header in headers),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def _pgbench(server, database: str, args) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "select1.sql"
        script.write_text("SELECT 1;\n")
        result = subprocess.run(
            [
                binaries() / "pgbench",
                "--no-vacuum",
                f"--client={args.connections}",
                "--jobs=2",
                f"--time={args.duration}",
                f"--file={script}",
                "--protocol=extended",
                "--log",
                f"--log-prefix={folder}/log",
                "--host=127.0.0.1",
                f"--port={server.port}",
                f"--username={SUPERUSER}",
                database,
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


def _summary(rounds: list[dict]) -> dict:
    def median(key, field):
        return statistics.median(r[key][field] for r in rounds)

    def figures(key):
        return {
            "rps": median(key, "rps"),
            "p50_ms": median(key, "p50_us") / 1000,
            "p99_ms": median(key, "p99_us") / 1000,
            "non_2xx": sum(r[key]["non_2xx"] for r in rounds),
            "socket_errors": sum(r[key]["socket_errors"] for r in rounds),
        }

    health, ceiling = figures("health"), figures("ceiling")
    sync = figures("sync_ceiling")
    nginx, nginx_ceiling = figures("health_nginx"), figures("ceiling_nginx")
    best = max(ceiling, sync, key=lambda c: c["rps"])
    summary = {
        "health": {
            **health,
            "requests_per_run": statistics.median(
                r["health"]["requests"] for r in rounds
            ),
            "statements_per_request": statistics.median(
                r["statements"] / r["health"]["requests"] for r in rounds
            ),
            "new_connections": sum(r["connections"] for r in rounds),
            "rss_mib": statistics.median(r["rss_mib"] for r in rounds),
        },
        "http_ceiling": ceiling,
        "health_nginx": nginx,
        "ceiling_nginx": nginx_ceiling,
        "sync_ceiling": sync,
        "db_ceiling": {
            "tps": median("pgbench", "tps"),
            "p50_ms": median("pgbench", "p50_us") / 1000,
            "p99_ms": median("pgbench", "p99_us") / 1000,
        },
        "ratios": {
            "nginx_health_rps_over_nginx_ceiling": nginx["rps"] / nginx_ceiling["rps"],
            "health_rps_over_http_ceiling": health["rps"] / ceiling["rps"],
            "health_p99_over_http_ceiling_p99": health["p99_ms"] / ceiling["p99_ms"],
            "health_rps_over_best_ceiling": health["rps"] / best["rps"],
            "health_p99_over_best_ceiling_p99": health["p99_ms"] / best["p99_ms"],
            "health_rps_over_db_ceiling": health["rps"] / median("pgbench", "tps"),
        },
        "rounds": rounds,
    }
    if "pgbouncer" in rounds[0]:
        summary["pgbouncer"] = figures("pgbouncer")
    return summary
