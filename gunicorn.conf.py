"""gunicorn settings, from the environment, with defaults for a small machine."""

import os
import socket
import subprocess
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from gunicorn.glogging import Logger
from gunicorn.util import parse_address

from config.env import choice, integer
from config.log import LOG_FORMATS, PROBE_ANSWERED, JsonFormatter, RedactSecretsFilter

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
    master without Django and psycopg stays 14 MiB smaller, and it holds no
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


_check_settings()

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
try:
    # 2 workers x 3 threads for a 2-core machine; each worker has its own pool.
    # Of the 3, one hashes a password at most, one more may wait to, and one is
    # left for pages (signin/hashers.py); the probe port has threads of its own.
    workers = integer("GUNICORN_WORKERS", 2)
    worker_class = "gthread"
    threads = integer("GUNICORN_THREADS", 3)
    # A request never needs this long: the database waits are bounded (pool 3 s,
    # connect 2 s, /health 2 s).
    timeout = integer("GUNICORN_TIMEOUT", 30)
    graceful_timeout = integer("GUNICORN_GRACEFUL_TIMEOUT", 20)
    keepalive = integer("GUNICORN_KEEPALIVE", 5)
    # As Django's (config/settings/logs.py): the readable line, or one JSON object.
    log_format = choice("DJANGO_LOG_FORMAT", "LINE", LOG_FORMATS)
except ImproperlyConfigured as exc:
    sys.exit(f"Configuration error: {exc}")
# The probes' own port: for orchestrators (Kubernetes), beside the main port.
probe_bind = os.environ.get("GUNICORN_PROBE_BIND", "127.0.0.1:8001")
try:
    probe_address = parse_address(probe_bind)
except RuntimeError:
    probe_address = None
if not isinstance(probe_address, tuple):
    sys.exit("Configuration error: GUNICORN_PROBE_BIND must be host:port")
# gunicorn's control socket (gunicornc: worker counts, reloads) is off unless
# GUNICORN_CONTROL_SOCKET names a path for this instance: its default path under
# $HOME is shared by every checkout of the same user.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
accesslog = "-"
errorlog = "-"


class RedactingLogger(Logger):
    """gunicorn's error and access logs, through the filter Django's logs use.

    A probe answered 200 gets no access line: load balancers probe every instance
    every few seconds, and the line cost a quarter of the probe's CPU. A
    probe answered otherwise is logged, as is every other request.
    """

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(RedactSecretsFilter())
                if log_format == "JSON":
                    handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time) -> None:
        if resp.status_code == 200 and environ.get(PROBE_ANSWERED):
            return
        super().access(resp, req, environ, request_time)


logger_class = RedactingLogger


# The probe port's listening socket: bound by the master, served by each worker.
_probe = {}


def on_starting(server) -> None:
    """Bind the probe port in the master, once: a port in use stops start-up.

    No SO_REUSEPORT, so that another program's listener is never shared; the
    workers inherit the socket across the fork.
    """
    host, port = probe_address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        if _listening(bind):
            # Both ports taken: most likely this site, started twice.
            sys.exit(
                f"Already serving: http://{bind}/ and {probe_bind} are taken, most "
                "likely by this site started before (another make run?): stop it, "
                "or serve on other ports (make run PORT=8001)"
            )
        sys.exit(
            f"Configuration error: GUNICORN_PROBE_BIND {probe_bind} cannot be "
            f"bound ({exc.strerror}): is another program listening there?"
        )
    listener.listen(64)
    # Every worker waits on it: those that lose the race must not block.
    listener.setblocking(False)
    _probe["listener"] = listener


def _listening(address: str) -> bool:
    """Whether something accepts connections at `address` (host:port)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=1):
            return True
    except (OSError, ValueError):
        return False


def when_ready(server) -> None:
    """Say where the site is once gunicorn listens: a request now waits, never fails."""
    for listener in server.LISTENERS:
        banner = (
            f"Serving on {listener}/ (admin: /admin/, health: /health; the probes "
            f"also on http://{probe_bind}/health). Ctrl-C stops."
        )
        if log_format == "JSON":  # a log shipper reads every line as JSON
            server.log.info(banner)
        else:
            print(banner, flush=True)


def post_worker_init(worker) -> None:
    """Serve the probe port from a thread of this worker, once Django is set up."""
    from health.server import serve

    _probe["server"] = serve(_probe["listener"])


def worker_exit(server, worker) -> None:
    if "server" in _probe:
        _probe["server"].shutdown()
