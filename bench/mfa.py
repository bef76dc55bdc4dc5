"""What the second factor costs in statements (pg_stat_statements), straight to
gunicorn (statements do not depend on the proxy in front):

- a student's signed-in GET /api/auth/me, against the same app without the
  second factor's middleware (bench.no_mfa_settings): no extra statement;
- the password step of a staff member with an authenticator app (answered
  "second factor required"), against a student's sign-in: what the second
  factor adds to the sign-in (the lookup of the user's factors);
- the second step itself (POST /api/auth/mfa/authenticate), for the record.
"""

from __future__ import annotations

import http.client
import json
import time

from django_otp.oath import TOTP

from bench.health import server_counters
from bench.report import Row, Target
from testsupport.servers import Gunicorn, manage

STUDENT, STAFF = "\\bench\\pupil", "\\bench\\counselor"
PASSWORD = "bench pass phrase 2026"
EXTRA_ME_STATEMENTS = Target("<=", 0)
EXTRA_SIGNIN_STATEMENTS = Target("<=", 2)
USERS = f"""
from accounts.models import User
from testsupport.mfa import add_totp
User.objects.filter(username__in=[{STUDENT!r}, {STAFF!r}]).delete()
User.objects.create_user({STUDENT!r}, password={PASSWORD!r})
staff = User.objects.create_user({STAFF!r}, password={PASSWORD!r}, is_staff=True)
print(add_totp(staff).key.hex())
"""
SIGN_INS = 20
REQUESTS = 300


def run(context, args) -> dict:
    env = {**context.env, "DJANGO_MFA_REQUIRED_FOR": "staff,superusers"}
    made = manage("shell", "-c", USERS, env=env)
    if made.returncode != 0:
        raise RuntimeError(f"making the bench's users: {made.stderr}")
    key = bytes.fromhex(made.stdout.split()[-1])
    apps = {
        "mfa": Gunicorn(env),
        "no_mfa": Gunicorn({**env, "DJANGO_SETTINGS_MODULE": "bench.no_mfa_settings"}),
    }
    count = _Counter(context)
    try:
        report = {
            name: {"me": count.per_call(REQUESTS, _me(app, _sign_in(app, STUDENT)))}
            for name, app in apps.items()
        }
        app = apps["mfa"]
        report["student_signin"] = count.per_call(
            SIGN_INS, lambda: _sign_in(app, STUDENT)
        )
        report["staff_password_step"] = count.per_call(
            SIGN_INS, lambda: _sign_in(app, STAFF, expect=401)
        )
        cookie, token = _sign_in(app, STAFF, expect=401, token=True)
        totp = TOTP(key)
        totp.time = time.time()
        report["second_step"] = count.per_call(
            1,
            lambda: _call(
                app,
                "/api/auth/mfa/authenticate",
                {"code": f"{totp.token():06d}"},
                cookie,
                token,
                expect=200,
            ),
        )
    finally:
        for gunicorn in apps.values():
            gunicorn.stop()
    report["extra_me_statements"] = report["mfa"]["me"] - report["no_mfa"]["me"]
    report["extra_signin_statements"] = (
        report["staff_password_step"] - report["student_signin"]
    )
    return report


class _Counter:
    def __init__(self, context) -> None:
        self.context = context

    def per_call(self, times: int, call) -> float:
        before = server_counters(self.context.server, self.context.database)
        for _ in range(times):
            call()
        after = server_counters(self.context.server, self.context.database)
        return (after["statements"] - before["statements"]) / times


def _request(app, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode(), response
    finally:
        conn.close()


def _csrf(app) -> str:
    _, body, _ = _request(app, "GET", "/api/auth/csrf")
    return json.loads(body)["csrf_token"]


def _sign_in(app, username, expect=200, token=False):
    csrf = _csrf(app)
    status, body, response = _request(
        app,
        "POST",
        "/api/auth/login",
        json.dumps({"username": username, "password": PASSWORD}),
        {
            "Content-Type": "application/json",
            "X-CSRFToken": csrf,
            "Cookie": f"csrftoken={csrf}",
        },
    )
    if status != expect:
        raise RuntimeError(f"sign-in of {username}: {status} {body}")
    session = next(
        value.split(";")[0]
        for key, value in response.getheaders()
        if key.lower() == "set-cookie" and value.startswith("sessionid=")
    )
    new = response.getheader("X-CSRFToken")
    cookie = f"{session}; csrftoken={new}"
    return (cookie, new) if token else cookie


def _call(app, path, body, cookie, token, expect):
    status, answer, _ = _request(
        app,
        "POST",
        path,
        json.dumps(body),
        {"Content-Type": "application/json", "X-CSRFToken": token, "Cookie": cookie},
    )
    if status != expect:
        raise RuntimeError(f"{path}: {status} {answer}")


def _me(app, cookie):
    def call():
        status, body, _ = _request(
            app, "GET", "/api/auth/me", headers={"Cookie": cookie}
        )
        if status != 200:
            raise RuntimeError(f"/api/auth/me: {status} {body}")

    return call


def rows(report: dict) -> list[Row]:
    extra_me = round(report["extra_me_statements"]) or 0
    extra_signin = round(report["extra_signin_statements"]) or 0
    return [
        Row(
            "mfa: a student's /api/auth/me statements, with / without",
            f"{report['mfa']['me']:.2f} / {report['no_mfa']['me']:.2f}",
        ),
        Row(
            "mfa: extra statements of a student's signed-in request",
            str(extra_me),
            EXTRA_ME_STATEMENTS,
            extra_me,
        ),
        Row(
            "mfa: sign-in statements, student / staff's password step",
            f"{report['student_signin']:.1f} / {report['staff_password_step']:.1f}",
        ),
        Row(
            "mfa: extra statements of a staff member's sign-in",
            str(extra_signin),
            EXTRA_SIGNIN_STATEMENTS,
            extra_signin,
        ),
        Row(
            "mfa: statements of the second step (its own request)",
            f"{report['second_step']:.0f}",
        ),
    ]
