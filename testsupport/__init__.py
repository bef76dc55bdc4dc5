"""The test harness: real servers (gunicorn, nginx, PgBouncer) and the helpers that
start them, shared by the tests and by bench/, which may import it (never the
other way round)."""
