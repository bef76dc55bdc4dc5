"""The second factor through the API, as the web frontend calls it (CSRF enforced),
with DJANGO_MFA_REQUIRED_FOR's default: staff and superusers."""

from __future__ import annotations

import time
from http import HTTPStatus

import pytest
from django.db import connection

from accounts.models import Session, User
from audit.models import AuthEvent, Kind
from mfa.flows import PENDING
from mfa.models import Passkey, RecoveryCode, TOTPDevice
from testsupport.frontend import PASSWORD, Frontend
from testsupport.mfa import add_totp, code, verify_session

pytestmark = [pytest.mark.django_db, pytest.mark.mfa]
STAFF = "\\corp\\counselor"


@pytest.fixture
def staff(db):
    return User.objects.create_user(STAFF, password=PASSWORD, is_staff=True)


@pytest.fixture
def device(staff):
    return add_totp(staff)


def signed_in_staff(device, frontend=None) -> Frontend:
    frontend = frontend or Frontend()
    assert frontend.sign_in(STAFF).status_code == HTTPStatus.UNAUTHORIZED
    response = frontend.post("/api/auth/mfa/authenticate", {"code": code(device)})
    assert response.status_code == HTTPStatus.OK, response.content
    frontend.token = response["X-CSRFToken"]
    return frontend


class TestStudents:
    def test_sign_in__as_before(self, frontend):
        assert frontend.sign_in().status_code == HTTPStatus.OK
        assert frontend.get("/api/auth/me").status_code == HTTPStatus.OK

    def test_may_not_enrol_by_default(self, frontend):
        frontend.sign_in()
        response = frontend.post("/api/auth/mfa/totp", {})
        assert response.status_code == HTTPStatus.FORBIDDEN
        assert not TOTPDevice.objects.exists()

    def test_may_enrol_when_the_setting_says(self, frontend, user, settings):
        settings.MFA_STUDENTS_MAY_ENROL = True
        frontend.sign_in()
        started = frontend.post("/api/auth/mfa/totp", {"name": "Phone"}).json()
        device = TOTPDevice.objects.get(public_id=started["id"])
        response = frontend.post(
            "/api/auth/mfa/totp/confirm", {"id": started["id"], "code": code(device)}
        )
        assert response.status_code == HTTPStatus.OK
        # From now on, their sign-in has a second step too.
        again = Frontend()
        answer = again.sign_in()
        assert answer.status_code == HTTPStatus.UNAUTHORIZED
        assert answer.json()["methods"] == ["totp", "recovery_code"]


class TestStaffWithoutAFactor:
    def test_confirm__takes_the_newest_app_when_no_id_is_given(self, staff):
        frontend = Frontend()
        frontend.sign_in(STAFF)
        started = frontend.post("/api/auth/mfa/totp", {}).json()
        device = TOTPDevice.objects.get(public_id=started["id"])
        confirmed = frontend.post("/api/auth/mfa/totp/confirm", {"code": code(device)})
        assert confirmed.status_code == HTTPStatus.OK
        assert confirmed.json()["id"] == started["id"]

    def test_sign_in__may_only_enrol(self, staff):
        frontend = Frontend()
        response = frontend.sign_in(STAFF)
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json() == {
            "error": "second factor enrolment required",
            "methods": [],
        }
        me = frontend.get("/api/auth/me")
        assert me.status_code == HTTPStatus.UNAUTHORIZED
        assert me.json() == {"error": "second factor required"}

    def test_enrolling_an_app__completes_the_sign_in_with_recovery_codes(
        self, staff, settings
    ):
        settings.MFA_THROTTLE_FACTOR = 0  # the wrong code below slows nothing
        frontend = Frontend()
        frontend.sign_in(STAFF)
        started = frontend.post("/api/auth/mfa/totp", {"name": "Phone"})
        assert started.status_code == HTTPStatus.OK
        body = started.json()
        assert body["otpauth_url"].startswith("otpauth://totp/")
        assert body["qr_svg"].startswith("<svg")
        device = TOTPDevice.objects.get(public_id=body["id"])
        assert not device.confirmed
        wrong = frontend.post(
            "/api/auth/mfa/totp/confirm", {"id": body["id"], "code": "000000"}
        )
        assert wrong.status_code == HTTPStatus.UNAUTHORIZED
        confirmed = frontend.post(
            "/api/auth/mfa/totp/confirm", {"id": body["id"], "code": code(device)}
        )
        assert confirmed.status_code == HTTPStatus.OK, confirmed.content
        codes = confirmed.json()["recovery_codes"]
        assert len(set(codes)) == 10
        frontend.token = confirmed["X-CSRFToken"]
        assert frontend.get("/api/auth/me").status_code == HTTPStatus.OK
        assert AuthEvent.objects.filter(kind=Kind.MFA_ENROLLED, user=staff).exists()


class TestSecondStep:
    def test_a_password_alone__leaves_every_other_call_401(self, device):
        frontend = Frontend()
        response = frontend.sign_in(STAFF)
        assert response.json() == {
            "error": "second factor required",
            "methods": ["totp"],
        }
        for method, path in (
            ("get", "/api/auth/me"),
            ("get", "/api/auth/sessions"),
            ("get", "/api/auth/events"),
            ("get", "/api/auth/mfa"),
            ("post", "/api/auth/logout"),
            ("post", "/api/auth/reauthenticate"),
            ("post", "/api/auth/sessions/end-others"),
            ("post", "/api/auth/mfa/totp"),
            ("post", "/api/auth/mfa/recovery-codes"),
        ):
            answer = getattr(frontend, method)(path)
            assert answer.status_code == HTTPStatus.UNAUTHORIZED, path
        # Nor the admin: its sign-in page, then the second step.
        admin = frontend.client.get("/admin/", follow=True)
        assert admin.redirect_chain[-1][0].startswith("/admin/second-factor/")

    def test_the_right_code__completes_it(self, device, staff):
        frontend = signed_in_staff(device)
        assert frontend.get("/api/auth/me").json()["username"] == STAFF
        assert frontend.get("/api/auth/mfa").json()["verified"] is True
        assert AuthEvent.objects.filter(kind=Kind.MFA_VERIFIED, user=staff).exists()

    def test_rotates_the_session_key(self, device):
        frontend = Frontend()
        frontend.sign_in(STAFF)
        before = frontend.client.cookies["sessionid"].value
        frontend.post("/api/auth/mfa/authenticate", {"code": code(device)})
        assert frontend.client.cookies["sessionid"].value != before
        assert not Session.objects.filter(session_key=before).exists()

    def test_a_wrong_code__is_401_audited_and_then_slowed(self, device, staff):
        frontend = Frontend()
        frontend.sign_in(STAFF)
        wrong = frontend.post("/api/auth/mfa/authenticate", {"code": "000000"})
        assert wrong.status_code == HTTPStatus.UNAUTHORIZED
        assert wrong.json() == {"error": "invalid second factor"}
        assert AuthEvent.objects.filter(kind=Kind.MFA_FAILED, user=staff).exists()
        # Even the right code waits while the factor is slowed down.
        slowed = frontend.post("/api/auth/mfa/authenticate", {"code": code(device)})
        assert slowed.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert int(slowed["Retry-After"]) >= 1
        assert frontend.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED

    def test_guessing__stops_after_a_few_tries(self, device, settings):
        settings.MFA_THROTTLE_FACTOR = 0.001  # ms, not s: the doubling is the rule
        device.throttling_failure_count = 12
        device.throttling_failure_timestamp = None
        device.save()
        frontend = Frontend()
        frontend.sign_in(STAFF)
        frontend.post("/api/auth/mfa/authenticate", {"code": "000000"})
        # 13 failures: 2 ** 12 ms = 4 s before the next code is even looked at.
        answer = frontend.post("/api/auth/mfa/authenticate", {"code": code(device)})
        assert answer.status_code == HTTPStatus.TOO_MANY_REQUESTS

    def test_a_used_code__is_refused_the_second_time(self, device):
        signed_in_staff(device)
        again = Frontend()
        again.sign_in(STAFF)
        used = again.post("/api/auth/mfa/authenticate", {"code": code(device)})
        assert used.status_code == HTTPStatus.UNAUTHORIZED

    @pytest.mark.parametrize(
        ("steps", "accepted"), [(-1, True), (1, True), (-2, False), (2, False)]
    )
    def test_clock_skew__one_step_accepted_two_refused(self, device, steps, accepted):
        frontend = Frontend()
        frontend.sign_in(STAFF)
        answer = frontend.post(
            "/api/auth/mfa/authenticate", {"code": code(device, steps)}
        )
        assert (answer.status_code == HTTPStatus.OK) is accepted

    def test_the_partial_session__expires(self, device, settings):
        frontend = Frontend()
        frontend.sign_in(STAFF)
        session = frontend.client.session
        session[PENDING] = time.time() - settings.MFA_PENDING_SECONDS - 1
        session.save()
        answer = frontend.post("/api/auth/mfa/authenticate", {"code": code(device)})
        assert answer.status_code == HTTPStatus.UNAUTHORIZED
        assert not Session.objects.filter(session_key=session.session_key).exists()

    def test_needs_the_csrf_token(self, device):
        frontend = Frontend()
        frontend.sign_in(STAFF)
        response = frontend.client.post(
            "/api/auth/mfa/authenticate",
            {"code": code(device)},
            content_type="application/json",
        )
        assert response.status_code == HTTPStatus.FORBIDDEN

    @pytest.mark.parametrize(
        "body",
        [{}, {"code": ""}, {"code": "1" * 65}, {"code": "123456", "webauthn": {}}],
        ids=["nothing", "empty", "long", "both"],
    )
    def test_bad_bodies__are_422(self, device, body):
        frontend = Frontend()
        frontend.sign_in(STAFF)
        response = frontend.post("/api/auth/mfa/authenticate", body)
        assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
        assert response.json()["error"] == "invalid input"

    def test_a_made_up_assertion__is_401(self, staff, device):
        Passkey.objects.create(
            user=staff, name="Key", credential_id=b"\x01" * 16, public_key=b"x"
        )
        frontend = Frontend()
        frontend.sign_in(STAFF)
        frontend.post("/api/auth/mfa/webauthn/authenticate/options")
        response = frontend.post(
            "/api/auth/mfa/authenticate",
            {"webauthn": {"id": "AQEBAQEBAQEBAQEBAQEBAQ", "response": {}}},
        )
        assert response.status_code == HTTPStatus.UNAUTHORIZED

    def test_a_session_from_before__must_do_the_second_step(self, device, staff):
        """A staff session that never did a second step (one begun before the
        policy, or made staff since) is held too, whatever its marks say."""
        frontend = Frontend()
        frontend.client.force_login(staff)
        session = frontend.client.session
        session.pop(PENDING)
        session.save()
        assert frontend.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED


class TestRecoveryCodes:
    def test_each_works_once(self, staff, settings):
        settings.MFA_THROTTLE_FACTOR = 0  # the refused attempt slows nothing
        frontend = Frontend()
        frontend.sign_in(STAFF)
        body = frontend.post("/api/auth/mfa/totp", {}).json()
        device = TOTPDevice.objects.get(public_id=body["id"])
        codes = frontend.post(
            "/api/auth/mfa/totp/confirm", {"id": body["id"], "code": code(device)}
        ).json()["recovery_codes"]
        for attempt, expected in (
            (codes[0], HTTPStatus.OK),
            (codes[0], HTTPStatus.UNAUTHORIZED),
        ):
            other = Frontend()
            other.sign_in(STAFF)
            answer = other.post("/api/auth/mfa/authenticate", {"code": attempt.lower()})
            assert answer.status_code == expected
        assert RecoveryCode.objects.filter(codes__user=staff).count() == 9
        assert AuthEvent.objects.filter(kind=Kind.MFA_RECOVERY_CODE_USED).count() == 1

    def test_are_stored_salted_and_hashed(self, staff):
        frontend = Frontend()
        frontend.sign_in(STAFF)
        body = frontend.post("/api/auth/mfa/totp", {}).json()
        device = TOTPDevice.objects.get(public_id=body["id"])
        codes = frontend.post(
            "/api/auth/mfa/totp/confirm", {"id": body["id"], "code": code(device)}
        ).json()["recovery_codes"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT hash FROM mfa_recovery_codes")
            stored = [row[0] for row in cursor.fetchall()]
        assert len(stored) == 10
        assert all(value.startswith("pbkdf2_sha256$") for value in stored)
        salts = {value.split("$")[2] for value in stored}
        assert len(salts) == 10
        plain = {c.replace("-", "") for c in codes}
        assert not any(p in value for p in plain for value in stored)


class TestSecretsAtRest:
    def test_the_column__holds_no_secret(self, staff):
        frontend = Frontend()
        frontend.sign_in(STAFF)
        body = frontend.post("/api/auth/mfa/totp", {}).json()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT t::text FROM mfa_totp_devices t WHERE public_id = %s",
                [body["id"]],
            )
            (row,) = cursor.fetchone()
        secret = body["secret"]
        key = TOTPDevice.objects.get(public_id=body["id"]).key
        assert secret not in row
        assert secret.lower() not in row
        assert key.hex() not in row

    def test_another_key__cannot_read_it(self, device, settings):
        from cryptography.fernet import Fernet, InvalidToken

        settings.MFA_KEYS = [Fernet.generate_key().decode()]
        with pytest.raises(InvalidToken):
            TOTPDevice.objects.get(pk=device.pk).key  # noqa: B018


class TestRemoval:
    def test_needs_a_recent_authentication(self, device, settings):
        frontend = signed_in_staff(device)
        settings.REAUTH_SECONDS = 0
        time.sleep(0.01)
        answer = frontend.delete(f"/api/auth/mfa/devices/{device.public_id}")
        assert answer.status_code == HTTPStatus.UNAUTHORIZED
        assert answer.json() == {"error": "reauthentication required"}
        assert TOTPDevice.objects.filter(pk=device.pk).exists()

    def test_the_last_factor__ends_the_other_sessions(self, device, staff):
        first = Frontend()
        first.client.force_login(staff)
        verify_session(first.client, staff, device)  # another session, done
        second = signed_in_staff(device)
        answer = second.delete(f"/api/auth/mfa/devices/{device.public_id}")
        assert answer.status_code == HTTPStatus.NO_CONTENT
        assert first.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED
        assert Session.objects.filter(user=staff).count() == 1
        assert AuthEvent.objects.filter(kind=Kind.MFA_REMOVED, user=staff).exists()
        # And this one may only enrol again.
        assert second.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED
        assert second.get("/api/auth/mfa").json()["devices"] == []

    def test_an_unknown_id__is_404(self, device):
        frontend = signed_in_staff(device)
        answer = frontend.delete(
            "/api/auth/mfa/devices/00000000-0000-4000-8000-000000000000"
        )
        assert answer.status_code == HTTPStatus.NOT_FOUND

    def test_a_password_change__keeps_the_factors(self, device, staff):
        frontend = signed_in_staff(device)
        answer = frontend.post(
            "/api/auth/password",
            {"current_password": PASSWORD, "new_password": "a new pass phrase 77"},
        )
        assert answer.status_code == HTTPStatus.NO_CONTENT
        assert TOTPDevice.objects.filter(pk=device.pk).exists()
        assert frontend.get("/api/auth/me").status_code == HTTPStatus.OK


class TestDatabase:
    def test_deleting_the_user__deletes_the_factors_in_sql(self, device, staff):
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM users WHERE id = %s", [staff.pk])
            cursor.execute("SELECT count(*) FROM mfa_totp_devices")
            assert cursor.fetchone() == (0,)
