"""A signed-in `GET /api/auth/me` through nginx (HTTPS): what the session limits cost.

Two instances of the app in one run, each behind the repository's nginx template:
the project as it is, and the same with the idle and absolute checks switched off
(bench.unlimited_settings), the path /me took before them. Each signs in once and
wrk replays its session cookie. Statements per request come from
pg_stat_statements; rounds rotate the order, and the medians are reported (the
ratio is the median of each round's own ratio).
"""

from __future__ import annotations

import json
import statistics
import sys

from bench.health import server_counters, wrk
from bench.report import Row, Target
from testsupport.servers import Gunicorn, Nginx, manage

USERNAME = "\\bench\\student"
PASSWORD = "bench pass phrase 2026"
RPS_RATIO = Target(">=", 0.95)
EXTRA_STATEMENTS = Target("<=", 0)
VARIANTS = {
    "limits": {},
    "no_limits": {"DJANGO_SETTINGS_MODULE": "bench.unlimited_settings"},
}


def run(context, args) -> dict:
    env = {**context.env, "DJANGO_SECURE_PROXY_SSL_HEADER": "true"}
    result = manage(
        "createsuperuser",
        "--noinput",
        "--username",
        USERNAME,
        env={**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
    )
    if result.returncode != 0 and "already taken" not in result.stderr:
        raise RuntimeError(f"createsuperuser failed: {result.stderr}")
    apps = {name: Gunicorn({**env, **extra}) for name, extra in VARIANTS.items()}
    edges = {name: Nginx(f"127.0.0.1:{app.port}") for name, app in apps.items()}
    try:
        cookies = {name: _sign_in(edge) for name, edge in edges.items()}
        for name, edge in edges.items():
            wrk(
                context.wrk,
                edge.url("/api/auth/me"),
                args.warmup,
                args.connections,
                headers=[f"Cookie: {cookies[name]}"],
            )
        rounds = []
        for number in range(args.rounds):
            names = list(edges)[number % 2 :] + list(edges)[: number % 2]
            result = {}
            for name in names:
                before = server_counters(context.server, context.database)
                figures = wrk(
                    context.wrk,
                    edges[name].url("/api/auth/me"),
                    args.duration,
                    args.connections,
                    headers=[f"Cookie: {cookies[name]}"],
                )
                after = server_counters(context.server, context.database)
                figures["statements_per_request"] = (
                    after["statements"] - before["statements"]
                ) / max(1, figures["requests"])
                result[name] = figures
            rounds.append(result)
            print(
                f"session_me round {number + 1} of {args.rounds} done", file=sys.stderr
            )
    finally:
        for process in [*edges.values(), *apps.values()]:
            process.stop()
    return _summary(rounds)


def _sign_in(edge: Nginx) -> str:
    """Sign in through nginx as the frontend does; return the Cookie header."""
    status, body, _, response = edge.request("/api/auth/csrf")
    csrf_cookie = response.headers["Set-Cookie"].split(";")[0]
    status, body, _, response = edge.request(
        "/api/auth/login",
        method="POST",
        body=json.dumps({"username": USERNAME, "password": PASSWORD}),
        headers={
            "Content-Type": "application/json",
            "X-CSRFToken": json.loads(body)["csrf_token"],
            "Cookie": csrf_cookie,
            "Origin": edge.origin,
        },
    )
    if status != 200:
        raise RuntimeError(f"sign-in through nginx: {status} {body}")
    session = next(
        value.split(";")[0]
        for key, value in response.getheaders()
        if key.lower() == "set-cookie" and value.startswith("sessionid=")
    )
    return session


def _summary(rounds: list[dict]) -> dict:
    out = {}
    for name in VARIANTS:
        runs = [r[name] for r in rounds]
        out[name] = {
            key: statistics.median(run[key] for run in runs)
            for key in ("rps", "statements_per_request")
        }
        for key in ("p50", "p99"):
            out[name][f"{key}_ms"] = (
                statistics.median(r[f"{key}_us"] for r in runs) / 1e3
            )
        out[name]["non_2xx"] = sum(r["non_2xx"] + r["socket_errors"] for r in runs)
    # Paired in each round: the machine drifts between rounds, not within one.
    out["rps_ratio"] = statistics.median(
        r["limits"]["rps"] / r["no_limits"]["rps"] for r in rounds
    )
    out["extra_statements"] = (
        out["limits"]["statements_per_request"]
        - out["no_limits"]["statements_per_request"]
    )
    out["rounds"] = rounds
    return out


def rows(report: dict) -> list[Row]:
    limits, plain = report["limits"], report["no_limits"]
    # To the nearest whole statement: the fraction is what is not per request (the
    # pool's connection checks, the once-a-minute touch) over thousands of them.
    extra = report["extra_statements"]
    whole = round(extra) or 0  # not "-0"
    return [
        Row("/api/auth/me through nginx req/s", f"{limits['rps']:.0f}"),
        Row("/api/auth/me without the limits req/s", f"{plain['rps']:.0f}"),
        Row(
            "/api/auth/me: with / without the limits",
            f"{report['rps_ratio']:.2f}",
            RPS_RATIO,
            report["rps_ratio"],
        ),
        Row(
            "/api/auth/me p50 / p99 ms (with limits)",
            f"{limits['p50_ms']:.2f} / {limits['p99_ms']:.2f}",
        ),
        Row(
            "/api/auth/me statements per request (with / without)",
            f"{limits['statements_per_request']:.2f} / "
            f"{plain['statements_per_request']:.2f}",
        ),
        Row(
            "/api/auth/me extra statements, whole (measured)",
            f"{whole} ({extra:.2f})",
            EXTRA_STATEMENTS,
            whole,
        ),
        Row(
            "/api/auth/me non-2xx + socket errors (with / without)",
            f"{limits['non_2xx']} / {plain['non_2xx']}",
            Target("==", 0),
            limits["non_2xx"] + plain["non_2xx"],
        ),
    ]
