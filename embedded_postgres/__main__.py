"""Run a command with DATABASE_URL set, starting the embedded server when none is given.

    python -m embedded_postgres [--data DIR | --throwaway] [--port N] -- COMMAND...

DATABASE_URL from the environment or `.env` wins; otherwise the server in DIR (default
`.pgdata/`) is started on 127.0.0.1, port EMBEDDED_PG_PORT (54329) unless --port says
otherwise, COMMAND runs with DATABASE_URL pointing at it (and the server's own
binaries, psql included, first on PATH), and the server is stopped when COMMAND ends,
Ctrl-C included. A throwaway server takes any free port.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
import psycopg

from config.pool import category
from embedded_postgres.server import EmbeddedPostgres, EmbeddedPostgresError

# make run's server: one port a checkout, so that psql and IDEs find it again.
DEFAULT_PORT = 54329


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embedded_postgres")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--data", type=Path, default=Path(".pgdata"))
    where.add_argument("--throwaway", action="store_true", help="a temporary cluster")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")

    # Real environment variables win over `.env`, as in config/settings/core.py, and
    # the same DJANGO_ENV_FILE names it (empty: none, as make test sets it).
    source = "the environment" if os.environ.get("DATABASE_URL") else ".env"
    if env_file := os.environ.get("DJANGO_ENV_FILE", ".env"):
        environ.Env.read_env(Path(env_file))
    if url := os.environ.get("DATABASE_URL"):
        if problem := unreachable(url, source):
            print(problem, file=sys.stderr)
            return 1
        print(f"Using DATABASE_URL from {source}.", file=sys.stderr)
        return _run(command)

    if args.port is None and not args.throwaway:
        value = os.environ.get("EMBEDDED_PG_PORT", str(DEFAULT_PORT))
        if not value.isdigit() or not 0 < int(value) < 65536:
            print(
                "EMBEDDED_PG_PORT must be a port number (1 to 65535)", file=sys.stderr
            )
            return 1
        args.port = int(value)
    try:
        with _server(args) as server:
            print(
                f"Embedded PostgreSQL 16 on 127.0.0.1:{server.port} "
                f"(data in {server.root}).",
                file=sys.stderr,
            )
            return _run(
                command,
                DATABASE_URL=server.url(),
                PATH=f"{server.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            )
    except EmbeddedPostgresError as exc:
        print(f"embedded PostgreSQL: {exc}", file=sys.stderr)
        return 1


@contextlib.contextmanager
def _server(args: argparse.Namespace):
    """Yield a running server: a throwaway one, or the one in `--data`."""
    if args.throwaway:
        with EmbeddedPostgres.throwaway() as server:
            yield server
        return
    server = EmbeddedPostgres(args.data, args.port)
    # Another `make run` may have started it: share it, and leave it running.
    if server.attach():
        yield server
        return
    server.start()
    try:
        yield server
    finally:
        server.stop()


def unreachable(url: str, source: str) -> str:
    """Return one line saying why PostgreSQL at `url` cannot be used, or ''.

    Names where the URL came from, its host and port (never its password), the
    cause, and what to do, instead of a pool's warnings and a traceback.
    """
    parts = urlsplit(url)
    try:
        psycopg.connect(
            urlunsplit(("postgresql", *parts[1:])), connect_timeout=3
        ).close()
    except psycopg.Error as exc:
        where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        advice = (
            "start it (docker compose up -d db for the compose route), or remove "
            "DATABASE_URL from .env to use the embedded PostgreSQL"
            if source == ".env"
            else "start it, or unset DATABASE_URL to use the embedded PostgreSQL"
        )
        return (
            f"DATABASE_URL from {source} names PostgreSQL at {where}, which cannot "
            f"be used ({category(exc)}): {advice}."
        )
    except ValueError:
        return f"DATABASE_URL from {source} is malformed: see .env.example."
    return ""


def _run(command: list[str], **env: str) -> int:
    child = subprocess.Popen(command, env={**os.environ, **env})  # noqa: S603
    # `kill` or a service manager: stop the command, then (in main) the server.
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            # The terminal sent SIGINT to the child too: let it shut down first.
            continue


if __name__ == "__main__":
    sys.exit(main())
