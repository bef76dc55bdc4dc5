"""No session of a blocked user, at any moment: PostgreSQL refuses the row."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import psycopg
import pytest
from django.contrib.auth.signals import user_logged_in
from django.db import IntegrityError, connection
from django.test import Client

from accounts.models import Session, User
from testsupport.frontend import PASSWORD

BLOCKED_SESSIONS = (
    "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id "
    "WHERE u.is_blocked"
)
INSERT = (
    "INSERT INTO sessions (session_key, session_data, expire_date, user_id, "
    "user_agent) VALUES (%s, '', %s, %s, '')"
)


def insert_session(cursor, user_id) -> None:
    expires = datetime.now(UTC) + timedelta(hours=1)
    cursor.execute(INSERT, [uuid.uuid4().hex, expires, user_id])


@pytest.mark.django_db
class TestRefused:
    @pytest.fixture
    def blocked(self, user):
        User.objects.filter(pk=user.pk).update(is_blocked=True)
        return user

    def test_raw_insert__is_a_check_violation(self, blocked):
        with (
            connection.cursor() as cursor,
            pytest.raises(IntegrityError, match="is blocked") as raised,
        ):
            insert_session(cursor, blocked.pk)
        assert raised.value.__cause__.diag.constraint_name == (
            "sessions_user_not_blocked"
        )

    def test_orm_create__is_refused(self, blocked):
        with pytest.raises(IntegrityError):
            Session.objects.create(
                session_key="k" * 32,
                session_data="",
                expire_date=datetime.now(UTC) + timedelta(hours=1),
                user=blocked,
            )

    def test_moving_a_session_to_a_blocked_user__is_refused(self, blocked, db):
        other = User.objects.create_user("\\uni\\other", password=PASSWORD)
        with connection.cursor() as cursor:
            insert_session(cursor, other.pk)
        with pytest.raises(IntegrityError), connection.cursor() as cursor:
            cursor.execute("UPDATE sessions SET user_id = %s", [blocked.pk])

    def test_anonymous_and_unblocked__are_allowed(self, user):
        with connection.cursor() as cursor:
            insert_session(cursor, None)
            insert_session(cursor, user.pk)
        assert Session.objects.count() == 2


@pytest.mark.django_db
class TestSignInLosingTheRace:
    """Blocked after the password check, before the session's row: a plain 401."""

    @pytest.fixture
    def blocked_at_login(self, user):
        """Block the user the moment login() has run, before the row is saved."""

        def blocked(sender, user, **kwargs):
            User.objects.filter(pk=user.pk).update(is_blocked=True)

        user_logged_in.connect(blocked, dispatch_uid="tests.blocked_at_login")
        yield user
        user_logged_in.disconnect(dispatch_uid="tests.blocked_at_login")

    def test_api__answers_the_failed_sign_in_401(self, blocked_at_login):
        client = Client()
        response = client.post(
            "/api/auth/login",
            {"username": "\\uni\\jsmith", "password": PASSWORD},
            content_type="application/json",
        )
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json() == {"error": "invalid credentials"}
        assert not Session.objects.filter(user=blocked_at_login).exists()
        assert client.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED

    def test_admin__goes_on_signed_out_not_500(self, user, monkeypatch):
        User.objects.filter(pk=user.pk).update(is_staff=True)
        from django.contrib.auth import views

        real_login = views.auth_login

        def login_then_blocked(request, user, *args, **kwargs):
            real_login(request, user, *args, **kwargs)
            User.objects.filter(pk=user.pk).update(is_blocked=True)

        monkeypatch.setattr(views, "auth_login", login_then_blocked)
        client = Client()
        response = client.post(
            "/admin/login/", {"username": "\\uni\\jsmith", "password": PASSWORD}
        )
        assert response.status_code == HTTPStatus.FOUND
        assert not Session.objects.filter(user=user).exists()
        assert client.get("/admin/").status_code == HTTPStatus.FOUND  # sign-in page


@pytest.mark.django_db(transaction=True)
class TestConcurrentBlock:
    def test_insert_waits_for_a_block_and_is_then_refused(self, user, database_url):
        with (
            psycopg.connect(database_url) as blocker,
            psycopg.connect(database_url, autocommit=True) as signer,
        ):
            blocker.execute(
                "UPDATE users SET is_blocked = true WHERE id = %s", [user.pk]
            )
            outcome = []

            def sign_in():
                try:
                    insert_session(signer.cursor(), user.pk)
                    outcome.append("inserted")
                except psycopg.errors.CheckViolation:
                    outcome.append("refused")

            thread = threading.Thread(target=sign_in)
            thread.start()
            time.sleep(0.5)
            assert outcome == []  # waiting for the block's transaction
            blocker.commit()
            thread.join(10)
            assert outcome == ["refused"]
            assert signer.execute(BLOCKED_SESSIONS).fetchone() == (0,)

    def test_at_every_moment__no_session_of_a_blocked_user(self, user, database_url):
        """Block and unblock while sessions are inserted; sample the invariant."""
        stop = threading.Event()
        seen, inserted = [], []

        def toggle():
            with psycopg.connect(database_url, autocommit=True) as conn:
                while not stop.is_set():
                    conn.execute(
                        "UPDATE users SET is_blocked = NOT is_blocked WHERE id = %s",
                        [user.pk],
                    )

        def sign_in():
            with psycopg.connect(database_url, autocommit=True) as conn:
                while not stop.is_set():
                    try:
                        insert_session(conn.cursor(), user.pk)
                        inserted.append(1)
                    except psycopg.errors.CheckViolation:
                        pass

        def watch():
            with psycopg.connect(database_url, autocommit=True) as conn:
                while not stop.is_set():
                    seen.append(conn.execute(BLOCKED_SESSIONS).fetchone()[0])

        threads = [threading.Thread(target=f) for f in (toggle, sign_in, watch)]
        for thread in threads:
            thread.start()
        time.sleep(3)
        stop.set()
        for thread in threads:
            thread.join(10)
        assert inserted, "no sign-in got through: the test exercised nothing"
        assert len(seen) > 100
        assert set(seen) == {0}
