"""The database readiness check, answered within a deadline whatever PostgreSQL does."""

from __future__ import annotations

import dataclasses
import datetime
import logging
from time import monotonic

import psycopg
from django.db import connections
from health_check import checks
from health_check.exceptions import ServiceUnavailable
from psycopg_pool import PoolTimeout

from config.pool import category, ping, unchecked

logger = logging.getLogger(__name__)

# A warm pool has an idle connection at once (2 threads per worker cannot use up
# 15); waiting longer only delays the answer when the server is down.
POOL_WAIT = 0.02


class CoolOff:
    """Repeat a failure's reason, without trying again, for `seconds` after it.

    A frozen server would otherwise hold each probe's worker thread for the full
    deadline, and probes queued behind them would answer late; a stopped one would
    get a new connection attempt per probe.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._reason = ""
        self._until = 0.0

    @property
    def reason(self) -> str:
        """Return the reason of a failure within the last `seconds`, else ''."""
        return self._reason if monotonic() < self._until else ""

    def start(self, reason: str) -> None:
        self._reason = reason
        self._until = monotonic() + self.seconds


@dataclasses.dataclass
class Database(checks.Database):
    """Run `SELECT 1` on a connection of Django's pool, and say what is wrong if not.

    The probe's `SELECT 1` is the connection's check (one round trip per probe). When
    the pool has no working connection (a restarted or stopped server), a direct
    connection tells whether the server is back and, if not, why.
    """

    # Below the 3 s a frozen server may take to answer 503: a probe on a pooled
    # connection waits this long; a direct connection waits POOL_WAIT plus libpq's
    # 2 s minimum connect_timeout.
    timeout = datetime.timedelta(seconds=2)
    # One per process: every probe of a worker shares what the last one learnt.
    cool_off = CoolOff(seconds=1.0)

    def run(self) -> None:
        if reason := self.cool_off.reason:
            raise ServiceUnavailable(reason)
        deadline = monotonic() + self.timeout.total_seconds()
        wrapper = connections[self.alias]
        try:
            self._ping_pooled(wrapper.pool, deadline)
        except _NoPooledConnection:
            try:
                params = {**wrapper.get_connection_params(), "connect_timeout": 2}
                with psycopg.connect(**params, autocommit=True) as conn:
                    ping(conn, deadline - monotonic())
            except psycopg.Error as exc:
                self._fail(exc)

    def _ping_pooled(self, pool, deadline: float) -> None:
        pool.open()  # Django opens it lazily, at its first connection
        try:
            with unchecked():
                conn = pool.getconn(timeout=POOL_WAIT)
        except PoolTimeout:
            raise _NoPooledConnection from None
        try:
            ping(conn, deadline - monotonic())
        except psycopg.errors.ConnectionTimeout as exc:
            self._fail(exc)
        except psycopg.Error as exc:
            # A connection from before a restart: closed, so the pool drops it.
            logger.info("pooled connection failed its probe: %s", exc)
            conn.close()
            raise _NoPooledConnection from None
        finally:
            pool.putconn(conn)

    def _fail(self, exc: psycopg.Error) -> None:
        # psycopg's messages name the host and port: fine for the log, not a client.
        logger.warning("database health check failed: %s", exc)
        reason = category(exc)
        # Remembered whatever it is: a load balancer probing every instance must
        # not add a connection storm to an outage.
        self.cool_off.start(reason)
        raise ServiceUnavailable(reason) from exc


class _NoPooledConnection(Exception):
    """The pool had no connection that answered."""
