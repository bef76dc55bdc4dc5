"""An authenticator-app code is accepted once, whichever gunicorn worker gets it:
the check is in PostgreSQL (the device's row lock and its last time step), not
in a process's memory."""

from __future__ import annotations

import threading
import time
from http import HTTPStatus

import pytest
import requests
from django_otp.oath import TOTP

from testsupport.servers import ADMIN, manage, serve_with_admin

pytestmark = pytest.mark.mfa
PASSWORD = "workers-mfa-pass-1"
ADD_DEVICE = f"""
from accounts.models import User
from testsupport.mfa import add_totp
print(add_totp(User.objects.get(username={ADMIN!r})).key.hex())
"""


@pytest.fixture(scope="module")
def app(throwaway_postgres):
    # Two workers of one thread each: requests at once go to both.
    app = serve_with_admin(
        throwaway_postgres,
        "mfa_workers",
        PASSWORD,
        DJANGO_MFA_REQUIRED_FOR="staff,superusers",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="1",
    )
    yield app
    app.stop()


def half_signed_in(app) -> requests.Session:
    client = requests.Session()
    base = app.url("")
    token = client.get(f"{base}/api/auth/csrf").json()["csrf_token"]
    answer = client.post(
        f"{base}/api/auth/login",
        json={"username": ADMIN, "password": PASSWORD},
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == HTTPStatus.UNAUTHORIZED
    assert answer.json()["error"] == "second factor required"
    client.headers["X-CSRFToken"] = answer.headers["X-CSRFToken"]
    return client


def test_a_code__is_accepted_once_across_workers(app):
    added = manage("shell", "-c", ADD_DEVICE, env=app.env)
    assert added.returncode == 0, added.stderr
    key = bytes.fromhex(added.stdout.split()[-1])
    clients = [half_signed_in(app) for _ in range(6)]
    totp = TOTP(key)
    totp.time = time.time()
    code = f"{totp.token():06d}"
    statuses = []
    start = threading.Barrier(len(clients))

    def second_step(client):
        start.wait()
        answer = client.post(app.url("/api/auth/mfa/authenticate"), json={"code": code})
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=second_step, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One in, the others refused (a used code, or slowed by the refusals).
    assert sorted(statuses).count(HTTPStatus.OK) == 1, statuses
    assert set(statuses) <= {
        HTTPStatus.OK,
        HTTPStatus.UNAUTHORIZED,
        HTTPStatus.TOO_MANY_REQUESTS,
    }
