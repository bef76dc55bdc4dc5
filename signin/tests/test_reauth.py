"""Re-authentication before sensitive calls, and students changing their password."""

import json
import logging
from http import HTTPStatus

import pytest
from django.db import connection
from django.test import Client

from accounts.models import Session, User
from accounts.sessions import SessionStore
from signin.reauth import AUTHENTICATED_AT
from testsupport.frontend import PASSWORD, Frontend

pytestmark = pytest.mark.django_db
NEW = "a much longer new pass phrase 7"
REAUTH_REQUIRED = {"error": "reauthentication required"}
INVALID = {"error": "invalid credentials"}


@pytest.fixture
def laptop_and_phone(user):
    laptop, phone = Frontend("laptop/1.0"), Frontend("phone/2.0")
    laptop.sign_in()
    phone.sign_in()
    return laptop, phone


def age_authentication(frontend, seconds):
    """Move the session's last authentication `seconds` into the past."""
    store = SessionStore(frontend.client.cookies["sessionid"].value)
    store[AUTHENTICATED_AT] -= seconds
    store.save()


def session_key(frontend):
    return frontend.client.cookies["sessionid"].value


def phone_id():
    return Session.objects.get(user_agent="phone/2.0").public_id


class TestReauthenticationRequired:
    def test_sign_in__counts_as_an_authentication(self, laptop_and_phone):
        laptop, _ = laptop_and_phone
        age_authentication(laptop, 290)
        response = laptop.post("/api/auth/sessions/end-others")
        assert response.json() == {"ended": 1}

    def test_end_others__needs_it_after_300_s(self, laptop_and_phone):
        laptop, phone = laptop_and_phone
        age_authentication(laptop, 301)
        response = laptop.post("/api/auth/sessions/end-others")
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json() == REAUTH_REQUIRED
        assert phone.get("/api/auth/me").status_code == HTTPStatus.OK
        # Still signed in: only the call was refused.
        assert laptop.get("/api/auth/me").status_code == HTTPStatus.OK

    def test_deleting_another_session__needs_it(self, laptop_and_phone):
        laptop, phone = laptop_and_phone
        age_authentication(laptop, 301)
        response = laptop.delete(f"/api/auth/sessions/{phone_id()}")
        assert response.json() == REAUTH_REQUIRED
        assert phone.get("/api/auth/me").status_code == HTTPStatus.OK

    def test_ending_this_session__does_not(self, laptop_and_phone):
        laptop, _ = laptop_and_phone
        age_authentication(laptop, 301)
        mine = Session.objects.get(user_agent="laptop/1.0").public_id
        response = laptop.delete(f"/api/auth/sessions/{mine}")
        assert response.status_code == HTTPStatus.NO_CONTENT

    def test_window__comes_from_the_setting(self, laptop_and_phone, settings):
        laptop, _ = laptop_and_phone
        settings.REAUTH_SECONDS = 3600
        age_authentication(laptop, 301)
        assert laptop.post("/api/auth/sessions/end-others").json() == {"ended": 1}

    def test_signed_out__is_authentication_required(self, db):
        frontend = Frontend()
        response = frontend.post("/api/auth/sessions/end-others")
        assert response.json() == {"error": "authentication required"}

    def test_setting__comes_from_the_environment(self, monkeypatch):
        from tests.test_settings import load_settings

        assert load_settings(monkeypatch)["REAUTH_SECONDS"] == 300
        loaded = load_settings(monkeypatch, DJANGO_REAUTH_SECONDS="60")
        assert loaded["REAUTH_SECONDS"] == 60


class TestReauthenticate:
    def test_then_accepted__with_a_new_key(self, laptop_and_phone):
        laptop, phone = laptop_and_phone
        age_authentication(laptop, 301)
        old_key = session_key(laptop)
        created = Session.objects.get(pk=old_key).created_at
        response = laptop.post("/api/auth/reauthenticate", {"password": PASSWORD})
        assert response.status_code == HTTPStatus.NO_CONTENT
        assert session_key(laptop) != old_key
        assert not Session.objects.filter(pk=old_key).exists()
        # The lifetime still counts from sign-in.
        assert Session.objects.get(pk=session_key(laptop)).created_at == created
        assert laptop.post("/api/auth/sessions/end-others").json() == {"ended": 1}
        assert phone.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED

    def test_wrong_password__is_401_and_stays_required(self, laptop_and_phone):
        laptop, _ = laptop_and_phone
        age_authentication(laptop, 301)
        response = laptop.post("/api/auth/reauthenticate", {"password": "wrong one"})
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json() == INVALID
        assert laptop.post("/api/auth/sessions/end-others").json() == REAUTH_REQUIRED
        assert laptop.get("/api/auth/me").status_code == HTTPStatus.OK

    def test_wrong_passwords__count_toward_the_lockout(self, frontend, settings):
        settings.AXES_FAILURE_LIMIT = 3
        frontend.sign_in()
        for _ in range(3):
            frontend.post("/api/auth/reauthenticate", {"password": "wrong one"})
        locked = frontend.post("/api/auth/reauthenticate", {"password": PASSWORD})
        assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
        # Counted against this browser's device cookie: the user, elsewhere, is
        # not locked out by guesses made in one session.
        assert Frontend().sign_in().status_code == HTTPStatus.OK

    def test_without_csrf__403(self, frontend):
        frontend.sign_in()
        response = frontend.client.post(
            "/api/auth/reauthenticate",
            json.dumps({"password": PASSWORD}),
            content_type="application/json",
        )
        assert response.status_code == HTTPStatus.FORBIDDEN

    def test_signed_out__401(self, db):
        response = Frontend().post("/api/auth/reauthenticate", {"password": PASSWORD})
        assert response.json() == {"error": "authentication required"}

    @pytest.mark.parametrize(
        "body",
        [{}, {"password": 42}, {"password": "a\x00b"}, {"password": "x" * 5000}],
    )
    def test_bad_input__422_naming_the_field(self, frontend, body):
        frontend.sign_in()
        response = frontend.post("/api/auth/reauthenticate", body)
        assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
        assert set(response.json()["fields"]) == {"password"}

    def test_malformed_json__4xx_in_the_one_shape(self, frontend):
        frontend.sign_in()
        response = frontend.post("/api/auth/reauthenticate", raw='{"password": ')
        assert 400 <= response.status_code < 500
        assert "error" in response.json()


class TestPasswordChange:
    def change(self, frontend, current=PASSWORD, new=NEW):
        return frontend.post(
            "/api/auth/password", {"current_password": current, "new_password": new}
        )

    def test_success__ends_other_sessions_and_keeps_this_one(self, laptop_and_phone):
        laptop, phone = laptop_and_phone
        old_key = session_key(laptop)
        created = Session.objects.get(pk=old_key).created_at
        assert self.change(laptop).status_code == HTTPStatus.NO_CONTENT
        assert session_key(laptop) != old_key
        assert laptop.get("/api/auth/me").status_code == HTTPStatus.OK
        assert phone.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED
        assert list(Session.objects.values_list("user_agent", flat=True)) == [
            "laptop/1.0"
        ]
        assert Session.objects.get().created_at == created

    def test_success__the_old_password_no_longer_signs_in(self, frontend):
        frontend.sign_in()
        self.change(frontend)
        assert Frontend().sign_in().status_code == HTTPStatus.UNAUTHORIZED
        assert Frontend().sign_in(password=NEW).status_code == HTTPStatus.OK
        user = User.objects.get()
        assert user.check_password(NEW)

    def test_success__counts_as_an_authentication(self, laptop_and_phone):
        laptop, _ = laptop_and_phone
        age_authentication(laptop, 301)
        self.change(laptop)
        assert laptop.post("/api/auth/sessions/end-others").json() == {"ended": 0}

    def test_wrong_current__same_401_as_sign_in_and_nothing_changes(
        self, laptop_and_phone
    ):
        laptop, phone = laptop_and_phone
        response = self.change(laptop, current="not my password")
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json() == INVALID
        assert User.objects.get().check_password(PASSWORD)
        assert phone.get("/api/auth/me").status_code == HTTPStatus.OK

    def test_wrong_current__counts_toward_the_lockout(self, frontend, settings):
        settings.AXES_FAILURE_LIMIT = 3
        frontend.sign_in()
        for _ in range(3):
            self.change(frontend, current="not my password")
        assert self.change(frontend).status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert User.objects.get().check_password(PASSWORD)
        assert Frontend().sign_in().status_code == HTTPStatus.OK  # another browser

    @pytest.mark.parametrize(
        ("new", "rule"),
        [
            ("tiny7", "too short"),
            ("password1234", "too common"),
            ("UNI-jsmith-2024", "username"),
        ],
    )
    def test_weak_new__422_with_the_rule_never_the_password(self, frontend, new, rule):
        frontend.sign_in()
        response = self.change(frontend, new=new)
        assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
        body = response.json()
        assert body["error"] == "invalid input"
        assert rule in body["fields"]["new_password"]
        assert new not in response.content.decode()
        assert User.objects.get().check_password(PASSWORD)

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"current_password": PASSWORD}, "new_password"),
            ({"new_password": NEW}, "current_password"),
            ({"current_password": PASSWORD, "new_password": 7}, "new_password"),
            (
                {"current_password": PASSWORD, "new_password": "a\x00" * 8},
                "new_password",
            ),
            (
                {"current_password": PASSWORD, "new_password": "y" * 4097},
                "new_password",
            ),
            ({"current_password": "x" * 4097, "new_password": NEW}, "current_password"),
        ],
    )
    def test_bad_input__422_naming_the_field(self, frontend, body, field):
        frontend.sign_in()
        response = frontend.post("/api/auth/password", body)
        assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
        assert field in response.json()["fields"]
        assert User.objects.get().check_password(PASSWORD)

    def test_without_csrf__403(self, frontend):
        frontend.sign_in()
        response = frontend.client.post(
            "/api/auth/password",
            json.dumps({"current_password": PASSWORD, "new_password": NEW}),
            content_type="application/json",
        )
        assert response.status_code == HTTPStatus.FORBIDDEN
        assert User.objects.get().check_password(PASSWORD)

    def test_signed_out__401(self, db):
        assert self.change(Frontend()).json() == {"error": "authentication required"}

    def test_no_password_in_the_logs(self, frontend, caplog):
        caplog.set_level(logging.DEBUG)
        frontend.sign_in()
        self.change(frontend, current="wrong-current-secret")
        self.change(frontend, new="short")
        self.change(frontend)
        for secret in ("wrong-current-secret", NEW, PASSWORD):
            assert secret not in caplog.text

    def test_in_sql__the_hash_changed_and_other_rows_are_gone(self, laptop_and_phone):
        laptop, _ = laptop_and_phone
        with connection.cursor() as cursor:
            cursor.execute("SELECT password_hash FROM users")
            (before,) = cursor.fetchone()
        self.change(laptop)
        with connection.cursor() as cursor:
            cursor.execute("SELECT password_hash FROM users")
            (after,) = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM sessions")
            (rows,) = cursor.fetchone()
        assert after != before
        assert rows == 1


class TestDocumented:
    def test_openapi__new_calls_with_bodies_and_errors(self, db):
        paths = Client().get("/api/openapi.json").json()["paths"]
        for path in ("/api/auth/reauthenticate", "/api/auth/password"):
            post = paths[path]["post"]
            assert "requestBody" in post
            assert {"204", "401", "403", "422", "429"} <= set(post["responses"])
