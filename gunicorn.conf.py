"""gunicorn settings, from the environment, with defaults for a small machine."""

import os
import subprocess
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from gunicorn.glogging import Logger

from config.env import integer
from config.log import PROBE_ANSWERED, RedactSecretsFilter
from config.worker import slow_down_seconds

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Loads the settings, and prints a configuration mistake as its one line.
CHECK_SETTINGS = """
import sys
from django.core.exceptions import ImproperlyConfigured
try:
    import config.settings
except ImproperlyConfigured as exc:
    sys.exit(f"Configuration error: {exc}")
"""


def _check_settings() -> None:
    """Stop start-up on a configuration mistake, in one line, before any worker.

    The settings are loaded in a short-lived child rather than in the master: a
    master without Django and psycopg stays 14 MiB smaller (#6), and it holds no
    database pool to share across the fork.
    """
    result = subprocess.run(  # noqa: S603 - this interpreter and project code
        [sys.executable, "-c", CHECK_SETTINGS],
        cwd=Path(__file__).resolve().parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(result.stderr.strip())


def _positive_int(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    if not value.isdigit() or int(value) < 1:
        sys.exit(f"Configuration error: {name} must be a positive integer")
    return int(value)


_check_settings()

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
try:
    # 2 workers x 3 threads for a 2-core machine; each worker has its own pool.
    # Of the 3, one hashes a password at most, one more may wait to, and one is
    # left for pages (accounts/hashers.py); the probes have 2 threads of their own.
    workers = integer("GUNICORN_WORKERS", 2)
    # gthread, with threads of its own for the probes and a pause for clients
    # told to retry later (config/worker.py, #11).
    worker_class = "config.worker.Worker"
    slow_down_seconds()
    threads = integer("GUNICORN_THREADS", 3)
    # A request never needs this long: the database waits are bounded (pool 3 s,
    # connect 2 s, /health 2 s).
    timeout = integer("GUNICORN_TIMEOUT", 30)
    graceful_timeout = integer("GUNICORN_GRACEFUL_TIMEOUT", 20)
    keepalive = integer("GUNICORN_KEEPALIVE", 5)
except ImproperlyConfigured as exc:
    sys.exit(f"Configuration error: {exc}")
accesslog = "-"
errorlog = "-"


class RedactingLogger(Logger):
    """gunicorn's error and access logs, through the filter Django's logs use (#9).

    A probe answered 200 gets no access line: load balancers probe every instance
    every few seconds, and the line cost a quarter of the probe's CPU (#12). A
    probe answered otherwise is logged, as is every other request.
    """

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(RedactSecretsFilter())

    def access(self, resp, req, environ, request_time) -> None:
        if resp.status_code == 200 and environ.get(PROBE_ANSWERED):
            return
        super().access(resp, req, environ, request_time)


logger_class = RedactingLogger
# No preload: each worker creates its own psycopg pool after the fork.
preload_app = False
# gunicorn's control socket (for gunicornc) defaults to one path per OS user, which
# several instances on a machine would share: off unless a path is given.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
