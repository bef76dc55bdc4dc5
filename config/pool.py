"""The pool's connection check, a ping within a deadline, and error categories.

psycopg waits for a server's answer without limit, and a frozen server (SIGSTOP) or a
black-holed network keeps the TCP connection up, so neither `connect_timeout` nor TCP
keepalives end the wait: only a deadline of its own does. Django-free, because the
settings name `check_connection` as the pool's check.
"""

from __future__ import annotations

import select
import threading
from contextlib import contextmanager
from time import monotonic

import psycopg
from psycopg import pq

# A healthy server answers an empty query within milliseconds.
CHECK_TIMEOUT = 1.0

_GOOD = {pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK, pq.ExecStatus.EMPTY_QUERY}
_unchecked = threading.local()


def ping(conn: psycopg.Connection, timeout: float, query: bytes = b"SELECT 1") -> None:
    """Run `query` on idle `conn`; raise `psycopg.OperationalError` if it fails.

    Raise `psycopg.errors.ConnectionTimeout` and close `conn` when no answer comes
    within `timeout` seconds: a half-read connection is of no further use.
    """
    deadline = monotonic() + timeout
    pgconn = conn.pgconn
    results = []
    try:
        with conn.lock:
            pgconn.send_query(query)
            while pgconn.flush():
                _wait(pgconn.socket, select.POLLOUT, deadline)
            while True:
                while pgconn.is_busy():
                    _wait(pgconn.socket, select.POLLIN, deadline)
                    pgconn.consume_input()
                result = pgconn.get_result()
                if result is None:
                    break
                results.append(result)
    except psycopg.errors.ConnectionTimeout:
        conn.close()
        raise
    for result in results:
        if result.status not in _GOOD:
            raise psycopg.OperationalError(
                (result.error_message or b"").decode(errors="replace").strip()
            )


def check_connection(conn: psycopg.Connection) -> None:
    """Check a connection as it leaves the pool, like the pool's own check, in time.

    Skipped inside `unchecked()`.
    """
    if not getattr(_unchecked, "active", False):
        ping(conn, CHECK_TIMEOUT, b"")


@contextmanager
def unchecked():
    """Take pooled connections without the check, for a caller that checks them.

    The readiness probe's `SELECT 1` is a check of its own, with its own deadline
    and error categories. Checking first would cost a round trip per probe and,
    on a frozen server, the check's 1 s on top of the probe's 2 s budget.
    """
    _unchecked.active = True
    try:
        yield
    finally:
        _unchecked.active = False


def category(exc: psycopg.Error) -> str:
    """Return a short, secret-free description of a database error."""
    message = str(exc).lower()
    if isinstance(exc, psycopg.errors.ConnectionTimeout) or "timeout" in message:
        return "timeout"
    if "connection refused" in message:
        return "connection refused"
    if (
        isinstance(
            exc,
            psycopg.errors.InvalidPassword
            | psycopg.errors.InvalidAuthorizationSpecification,
        )
        or "authentication failed" in message
    ):
        return "authentication failed"
    if "does not exist" in message:
        return "database not found"
    if "too many" in message:
        return "too many connections"
    if "translate host name" in message or "name or service not known" in message:
        return "host not found"
    return "database error"


def _wait(fileno: int, event: int, deadline: float) -> None:
    remaining = deadline - monotonic()
    poller = select.poll()
    poller.register(fileno, event)
    if remaining <= 0 or not poller.poll(remaining * 1000):
        raise psycopg.errors.ConnectionTimeout("no answer from the server in time")
