"""PostgreSQL through Django's psycopg pool."""

from __future__ import annotations

from config.env import database_url, integer, number, sizes
from config.pool import check_connection
from config.settings.core import DEBUG

# 5 to 15 connections a process.
# A request waits 3 s for a connection, not psycopg's 30.
DB_POOL_MIN_SIZE, DB_POOL_MAX_SIZE = sizes(
    "DB_POOL_MIN_SIZE", 5, "DB_POOL_MAX_SIZE", 15
)
DB_POOL_TIMEOUT = number("DB_POOL_TIMEOUT", 3.0, minimum=0.1)
DB_CONNECT_TIMEOUT = integer("DB_CONNECT_TIMEOUT", 2)

_url = database_url("DATABASE_URL", debug=DEBUG)
DATABASES = {
    "default": {
        **_url,
        "CONN_MAX_AGE": 0,  # the pool keeps connections; Django must not
        "OPTIONS": {
            "connect_timeout": DB_CONNECT_TIMEOUT,
            # The URL's query (sslmode, sslrootcert, target_session_attrs,
            # options, ...) reaches libpq, and wins over the default above.
            **_url.get("OPTIONS", {}),
            "pool": {
                "min_size": DB_POOL_MIN_SIZE,
                "max_size": DB_POOL_MAX_SIZE,
                "timeout": DB_POOL_TIMEOUT,
                # Bounded in time: psycopg's own check waits forever on a frozen server.
                "check": check_connection,
            },
        },
    },
}
# Behind PgBouncer's transaction mode nothing may outlive a transaction: no
# server-side cursors, direct or not (prepared statements are off by default).
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
