"""config/worker.py under gunicorn: probes ahead of the queue, resting connections."""

import http.client
import socket
import threading
import time
from http import HTTPStatus

import pytest

from tests.support import SECRET_KEY, Gunicorn

ENV = {
    "DJANGO_SECRET_KEY": SECRET_KEY,
    "DATABASE_URL": "postgres://app:secret@127.0.0.1:9/none",
    "GUNICORN_WORKERS": "1",
    "GUNICORN_THREADS": "2",
}


@pytest.fixture
def serve():
    started = []

    def serve(**env):
        app = Gunicorn({**ENV, **env}, "tests.worker_app:application")
        started.append(app)
        return app

    yield serve
    for app in started:
        app.stop()


def occupy(app, count, seconds):
    """Send `count` requests that take `seconds` each; return their threads."""
    threads = [
        threading.Thread(target=app.get, args=(f"/slow?{seconds}",))
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # all of them read and being served, or queued
    return threads


def test_probe__is_answered_while_every_request_thread_is_busy(serve):
    app = serve()
    busy = occupy(app, 4, 3)
    probe = app.get("/health/live")
    page = app.get("/")
    for thread in busy:
        thread.join()
    assert probe[0] == HTTPStatus.OK
    assert probe[2] < 1
    assert page[2] > 1  # the request threads were taken: a page waited


@pytest.mark.parametrize(("rest", "shortest"), [("0.6", 0.5), ("0", 0)])
def test_told_to_retry__the_connection_rests_before_its_next_request(
    serve, rest, shortest
):
    app = serve(GUNICORN_SLOW_DOWN=rest)
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
    try:
        conn.request("GET", "/busy")
        response = conn.getresponse()
        response.read()
        assert response.status == HTTPStatus.SERVICE_UNAVAILABLE
        started = time.monotonic()
        other = app.get("/")  # another connection is served meanwhile
        conn.request("GET", "/")
        answer = conn.getresponse()
        answer.read()
        waited = time.monotonic() - started
    finally:
        conn.close()
    assert answer.status == HTTPStatus.OK
    assert other[2] < 0.3
    assert waited >= shortest
    assert waited < shortest + 0.4


def test_silent_connections__hold_no_thread(serve):
    app = serve(GUNICORN_THREADS="1")
    silent = [socket.create_connection(("127.0.0.1", app.port)) for _ in range(4)]
    try:
        time.sleep(0.3)
        status, _, seconds = app.get("/")
    finally:
        for conn in silent:
            conn.close()
    assert status == HTTPStatus.OK
    assert seconds < 1
