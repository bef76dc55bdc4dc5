"""gunicorn settings, from the environment, with defaults for a small machine."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _positive_int(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    if not value.isdigit() or int(value) < 1:
        sys.exit(f"Configuration error: {name} must be a positive integer")
    return int(value)


# Check the Django settings in the master, so that a configuration mistake stops
# start-up with one line rather than a traceback from every worker that boots.
# This loads settings and apps only: no database connection is opened here, so
# there is no psycopg pool to be shared across the fork.
try:
    import django
    from django.core.exceptions import ImproperlyConfigured

    django.setup()
except ImproperlyConfigured as exc:
    sys.exit(f"Configuration error: {exc}")

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# 2 workers x 4 threads serve a 2-core machine; each worker has its own pool.
workers = _positive_int("GUNICORN_WORKERS", 2)
worker_class = "gthread"
threads = _positive_int("GUNICORN_THREADS", 4)
# A request never needs this long: the database waits are bounded (pool 3 s,
# connect 2 s, /health 2 s).
timeout = _positive_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _positive_int("GUNICORN_GRACEFUL_TIMEOUT", 20)
keepalive = _positive_int("GUNICORN_KEEPALIVE", 5)
accesslog = "-"
errorlog = "-"
# No preload: each worker creates its own psycopg pool after the fork.
preload_app = False
# gunicorn's control socket (for gunicornc) defaults to one path per OS user, which
# several instances on a machine would share: off unless a path is given.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
