"""The probe port (GUNICORN_PROBE_BIND): the probes on a listener of their own.

gunicorn's master binds it (its `on_starting` hook, gunicorn.conf.py) and each
worker serves it from a thread (`serve`, from `post_worker_init`), so that a probe never
queues behind the requests of the main port. The probes' own code answers
(health.probes), with the same JSON and deadlines; anything else is 404, or 405
for a probe's path. Each connection has its own thread and a read deadline, so
slow clients hold neither the port nor each other.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from health.probes import serve_probes

logger = logging.getLogger(__name__)

# Seconds a client may take to send each part of its request.
READ_DEADLINE = 2.0


def not_found(environ: dict, start_response: Callable) -> Iterable[bytes]:
    body = json.dumps({"error": "not found"}).encode()
    start_response(
        "404 Not Found",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


class ProbeRequestHandler(WSGIRequestHandler):
    timeout = READ_DEADLINE

    def log_message(self, format: str, *args: object) -> None:
        """Write no access line: probes come every few seconds (see gunicorn.conf)."""


class ProbeServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server on a socket bound by gunicorn's master, a thread a client."""

    daemon_threads = True

    def __init__(self, listener: socket.socket) -> None:
        super().__init__(
            listener.getsockname()[:2], ProbeRequestHandler, bind_and_activate=False
        )
        self.socket.close()
        self.socket = listener
        self.server_name, self.server_port = listener.getsockname()[:2]
        self.setup_environ()
        self.set_app(serve_probes(not_found))

    def handle_error(self, request, client_address) -> None:
        # A client too slow for the deadline, or gone: nothing to report.
        logger.debug("probe connection from %s ended early", client_address[0])


def serve(listener: socket.socket) -> ProbeServer:
    """Serve the probes on `listener` from a thread of this process; return it."""
    server = ProbeServer(listener)
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    return server
