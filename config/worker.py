"""gunicorn's gthread worker, with the probes ahead of the queue (#11).

Two changes to `gunicorn.workers.gthread.ThreadWorker`, both in the main loop:

- **Probes have threads of their own.** A request whose first bytes are
  `GET /health` (or `/health/live`, or HEAD) is handed to a small pool of probe
  threads, so a probe never waits behind sign-ins queued for the request threads.
  A new connection waits for its first bytes in the poller, not in a thread.
- **A client told to retry later is not heard again at once.** After a 429 or
  503 answer with `Retry-After`, the kept-alive connection rests for
  GUNICORN_SLOW_DOWN seconds (1 by default, 0 to turn it off) before its next
  request is read. A flood that is turned away then costs a few answers a second
  per connection, instead of as many as the CPU can give, which password hashing
  and the probes need. The connection holds no thread while it rests.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import re
import selectors
import socket
import threading
import time
from concurrent import futures
from functools import partial

from gunicorn.workers.gthread import TConn, ThreadWorker

from config.env import number

PROBE_THREADS = 2
PEEK_BYTES = 32
SLOWED_STATUSES = ("429", "503")


def slow_down_seconds() -> float:
    return number("GUNICORN_SLOW_DOWN", 1.0, minimum=0)


class Worker(ThreadWorker):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.probe_pool = None
        self.slow_down = slow_down_seconds()
        self.resting: list[tuple[float, int, TConn]] = []
        self._order = itertools.count()
        self._told_to_wait = threading.local()

    def init_process(self) -> None:
        # Imported after the fork: the master stays without Django (#6).
        from health.probes import PROBES

        self.probe_request = re.compile(
            rb"(?:GET|HEAD) (?:%s)[ ?]"
            % b"|".join(re.escape(p.encode()) for p in PROBES)
        )
        self.probe_pool = futures.ThreadPoolExecutor(
            max_workers=PROBE_THREADS, thread_name_prefix="probe"
        )
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app = self.wsgi
        told = self._told_to_wait

        def wsgi(environ, start_response):
            def start(status, headers, exc_info=None):
                told.value = status[:3] in SLOWED_STATUSES and any(
                    name.lower() == "retry-after" for name, _ in headers
                )
                return start_response(status, headers, exc_info)

            return app(environ, start)

        self.wsgi = wsgi

    def accept(self, listener) -> None:
        """Accept, then wait for the request's first bytes in the poller."""
        try:
            client, address = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED):
                return
            raise
        self.nr_conns += 1
        conn = TConn(self.cfg, client, address, listener.getsockname())
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(
            conn.sock,
            selectors.EVENT_READ,
            partial(self.on_pending_socket_readable, conn),
        )

    def enqueue_req(self, conn: TConn) -> None:
        pool = self.probe_pool if self._is_probe(conn) else self.tpool
        future = pool.submit(self.handle, conn)
        future.add_done_callback(
            lambda done: self.method_queue.defer(self.finish_request, conn, done)
        )

    def handle_request(self, req, conn: TConn) -> bool:
        self._told_to_wait.value = False
        keepalive = super().handle_request(req, conn)
        conn.rest = keepalive and self._told_to_wait.value and self.slow_down > 0
        return keepalive

    def finish_request(self, conn: TConn, future) -> None:
        if getattr(conn, "rest", False) and self.alive and _kept_alive(future):
            conn.rest = False
            conn.sock.setblocking(False)
            until = time.monotonic() + self.slow_down
            heapq.heappush(self.resting, (until, next(self._order), conn))
            return
        super().finish_request(conn, future)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if self.resting:
            timeout = max(0.0, min(timeout, self.resting[0][0] - time.monotonic()))
        super().wait_for_and_dispatch_events(timeout)
        self._wake_rested(force=not self.alive)

    def _is_probe(self, conn: TConn) -> bool:
        """Whether the waiting request starts with a probe's request line."""
        if self.cfg.is_ssl or conn.is_http2:
            return False  # no plain request line to peek at
        if conn.parser is not None and conn.parser.unreader.buf.getvalue():
            return False  # read ahead already: the socket no longer has its start
        try:
            start = conn.sock.recv(PEEK_BYTES, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (OSError, ValueError):
            return False
        return self.probe_request.match(start) is not None

    def _wake_rested(self, *, force: bool = False) -> None:
        now = time.monotonic()
        while self.resting and (force or self.resting[0][0] <= now):
            _, _, conn = heapq.heappop(self.resting)
            super().finish_request(conn, _KEPT_ALIVE)


def _kept_alive(future) -> bool:
    return not future.cancelled() and future.exception() is None and future.result()


_KEPT_ALIVE: futures.Future = futures.Future()
_KEPT_ALIVE.set_result(True)
