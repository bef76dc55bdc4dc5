"""gunicorn settings, from the environment with defaults for a small machine."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Fail at start-up, in one line, on a configuration mistake, rather than with a
# traceback from every worker that tries to boot.
try:
    import django
    from django.core.exceptions import ImproperlyConfigured

    django.setup()
except ImproperlyConfigured as exc:
    sys.exit(f"Configuration error: {exc}")

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
accesslog = "-"
errorlog = "-"
# No preload: each worker opens its own psycopg pool after the fork.
preload_app = False
# gunicorn's control socket (for gunicornc) defaults to one path per OS user, which
# several instances on a machine would share: off unless a path is given.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
