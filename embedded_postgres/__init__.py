"""A private PostgreSQL 16 server for `make run` and the tests (see `server.py`)."""

from embedded_postgres.server import EmbeddedPostgres, EmbeddedPostgresError

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError"]
