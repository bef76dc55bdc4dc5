"""The `sessions` table: tied to its user by PostgreSQL, ended by blocking and more."""

from datetime import datetime, timedelta
from http import HTTPStatus

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import Session, User
from accounts.sessions import SessionStore
from testsupport.frontend import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, username="\\uni\\jsmith", password=PASSWORD):
    """Sign in through the API, as the frontend does (the client skips CSRF)."""
    response = client.post(
        "/api/auth/login",
        {"username": username, "password": password},
        content_type="application/json",
    )
    assert response.status_code == HTTPStatus.OK, response.content
    return client


@pytest.fixture
def signed_in(user):
    """Return two clients signed in as `user`, each with a session row."""
    clients = [
        sign_in(Client(HTTP_USER_AGENT=agent)) for agent in ("laptop/1.0", "phone/2.0")
    ]
    assert Session.objects.filter(user=user).count() == 2
    return clients


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


class TestTable:
    def test_row__has_its_user_client_and_times(self, user):
        sign_in(
            Client(HTTP_USER_AGENT="laptop/1.0", REMOTE_ADDR="10.1.2.3"),
            username="\\UNI\\JSMITH",
        )
        row = Session.objects.get()
        assert row.user == user
        assert (row.ip, row.user_agent) == ("10.1.2.3", "laptop/1.0")
        assert row.created_at <= row.last_seen_at <= timezone.now()
        assert row.public_id is not None
        assert str(row) == str(row.public_id)  # never the key

    def test_user_agent__is_cut_to_256_characters(self, user):
        sign_in(Client(HTTP_USER_AGENT="x" * 5000))
        assert len(Session.objects.get().user_agent) == 256

    def test_schema__cascades_and_indexes_in_postgresql(self):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT confdeltype FROM pg_constraint "
                "WHERE conrelid = 'sessions'::regclass AND contype = 'f'"
            )
            assert cursor.fetchall() == [("c",)]
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'sessions' "
                "AND indexname = 'idx_sessions_user'"
            )
            assert cursor.fetchone() == (
                "CREATE INDEX idx_sessions_user ON public.sessions "
                "USING btree (user_id, last_seen_at DESC)",
            )
            cursor.execute(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'sessions' AND column_name = 'ip'"
            )
            assert cursor.fetchone() == ("inet",)


class TestDeletingAUser:
    def test_orm__removes_their_sessions(self, user, signed_in):
        user.delete()
        assert not Session.objects.exists()

    def test_raw_sql__removes_their_sessions(self, user, signed_in):
        sql("DELETE FROM users WHERE id = %s", [user.pk])
        assert not Session.objects.exists()

    def test_admin__removes_their_sessions(self, user, signed_in, superuser):
        admin = Client()
        admin.force_login(superuser)
        response = admin.post(
            f"/admin/accounts/user/{user.pk}/delete/", {"post": "yes"}
        )
        assert response.status_code == HTTPStatus.FOUND
        assert not Session.objects.filter(user_id=user.pk).exists()


class TestBlockingAUser:
    """Every way of blocking ends the sessions at once; unblocking revives none."""

    def block_with_save(self, user):
        user.is_blocked = True
        user.save()

    def block_with_update(self, user):
        User.objects.filter(pk=user.pk).update(is_blocked=True)

    def block_with_sql(self, user):
        sql("UPDATE users SET is_blocked = true WHERE id = %s", [user.pk])

    def block_with_admin(self, user):
        admin = User.objects.create_superuser("\\corp\\root", password="root-pass-1")
        client = Client()
        client.force_login(admin)
        client.post(
            "/admin/accounts/user/",
            {"action": "block", "_selected_action": [str(user.pk)]},
        )

    @pytest.mark.parametrize("way", ["save", "update", "sql", "admin"])
    def test_ends_every_session_and_unblocking_revives_none(self, user, signed_in, way):
        getattr(self, f"block_with_{way}")(user)
        assert not Session.objects.filter(user=user).exists()
        User.objects.filter(pk=user.pk).update(is_blocked=False)
        for client in signed_in:
            assert client.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED

    def test_other_users__keep_their_sessions(self, user, signed_in):
        other = User.objects.create_user("\\uni\\adoe", password=PASSWORD)
        sign_in(Client(), username="\\uni\\adoe")
        self.block_with_sql(user)
        assert list(Session.objects.values_list("user", flat=True)) == [other.pk]


class TestPasswordChange:
    def test_raw_sql__ends_all_sessions(self, user, signed_in):
        sql("UPDATE users SET password_hash = 'x' WHERE id = %s", [user.pk])
        assert not Session.objects.filter(user=user).exists()

    def test_own_change_in_the_admin__keeps_the_current_session_only(self, user):
        user.is_staff = user.is_superuser = True
        user.save()
        current, other = sign_in(Client()), sign_in(Client())
        response = current.post(
            "/admin/password_change/",
            {
                "old_password": PASSWORD,
                "new_password1": "a brand new phrase 7",
                "new_password2": "a brand new phrase 7",
            },
        )
        assert response.status_code == HTTPStatus.FOUND
        assert Session.objects.filter(user=user).count() == 1
        assert current.get("/api/auth/me").status_code == HTTPStatus.OK
        assert other.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED

    def test_other_columns__leave_sessions_alone(self, user, signed_in):
        sql(
            "UPDATE users SET is_staff = true, last_login = now() WHERE id = %s",
            [user.pk],
        )
        assert Session.objects.filter(user=user).count() == 2


class TestLastSeen:
    def test_is_written_at_most_once_a_minute(self, user, signed_in):
        client = signed_in[0]
        row = Session.objects.get(user_agent="laptop/1.0")
        client.get("/api/auth/me")
        assert Session.objects.get(pk=row.pk).last_seen_at == row.last_seen_at
        stale = timezone.now() - Session.touch_interval() - timedelta(seconds=1)
        Session.objects.filter(pk=row.pk).update(last_seen_at=stale)
        client.get("/api/auth/me")
        assert Session.objects.get(pk=row.pk).last_seen_at > stale

    def test_a_request__writes_nothing_when_recent(self, user, signed_in):
        client = signed_in[0]
        client.get("/api/auth/me")  # warm: the first request may touch
        before = Session.objects.get(user_agent="laptop/1.0").last_seen_at
        for _ in range(5):
            client.get("/api/auth/me")
        assert Session.objects.get(user_agent="laptop/1.0").last_seen_at == before


class TestLiveSessions:
    """One rule of a live session (Session.is_live, SessionQuerySet.live) for
    the store, the API's list, the admin's table and clearsessions."""

    @pytest.fixture
    def idle_and_live(self, user):
        idle = sign_in(Client(REMOTE_ADDR="192.0.2.1"))
        live = sign_in(Client(REMOTE_ADDR="192.0.2.2"))
        sql(
            "UPDATE sessions SET last_seen_at = now() - interval '31 minutes' "
            "WHERE ip = '192.0.2.1'"
        )
        return idle, live

    def test_api_list__leaves_out_an_idle_session(self, idle_and_live):
        _, live = idle_and_live
        listed = live.get("/api/auth/sessions").json()
        assert [s["ip"] for s in listed] == ["192.0.2.2"]

    def test_admin_table__leaves_out_an_idle_session(self, user, idle_and_live):
        from django.contrib import admin

        table = admin.site.get_model_admin(User).session_table(user)
        assert "192.0.2.2" in table
        assert "192.0.2.1" not in table

    def test_queryset_and_row__agree(self, user, idle_and_live):
        live = set(Session.objects.live().values_list("pk", flat=True))
        assert live == {row.pk for row in Session.objects.all() if row.is_live()}
        assert len(live) == 1

    def test_clearsessions__removes_idle_sessions_too(self, user, idle_and_live):
        call_command("clearsessions")
        assert list(Session.objects.values_list("ip", flat=True)) == ["192.0.2.2"]


class TestClearSessions:
    def test_removes_expired_rows_only(self, user, signed_in):
        expired = Session.objects.get(user_agent="laptop/1.0")
        Session.objects.filter(pk=expired.pk).update(
            expire_date=timezone.now() - timedelta(seconds=1)
        )
        call_command("clearsessions")
        assert list(Session.objects.values_list("user_agent", flat=True)) == [
            "phone/2.0"
        ]


class TestStore:
    def test_session_data__keeps_the_user_in_the_row(self, user):
        store = SessionStore(ip="192.0.2.1", user_agent="cli")
        store[SESSION_KEY] = str(user.pk)
        store.save()
        row = Session.objects.get(pk=store.session_key)
        assert (row.user, row.ip, row.user_agent) == (user, "192.0.2.1", "cli")

    def test_update__keeps_created_at(self, user, signed_in):
        row = Session.objects.get(user_agent="laptop/1.0")
        store = SessionStore(row.session_key)
        store["x"] = 1
        store.save()
        assert Session.objects.get(pk=row.pk).created_at == row.created_at


class TestLimits:
    """Idle and absolute limits, judged in the read that loads the session."""

    @pytest.fixture
    def client(self, user):
        return sign_in(Client())

    def shift(self, column, **delta):
        sql(
            f"UPDATE sessions SET {column} = {column} - %s",
            [timedelta(**delta)],
        )

    def test_active__stays_signed_in(self, client):
        self.shift("last_seen_at", minutes=29)
        assert client.get("/api/auth/me").status_code == HTTPStatus.OK

    def test_idle__ends_with_session_expired_and_the_row_is_deleted(self, client):
        self.shift("last_seen_at", minutes=31)
        response = client.get("/api/auth/me")
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json() == {"error": "session expired"}
        assert not Session.objects.exists()

    def test_absolute__ends_despite_activity(self, client):
        self.shift("created_at", hours=8, minutes=1)
        response = client.get("/api/auth/me")
        assert response.json() == {"error": "session expired"}
        assert not Session.objects.exists()

    def test_a_restored_row__never_works_again(self, client):
        self.shift("last_seen_at", hours=1)
        rows = list(Session.objects.values())
        client.get("/api/auth/me")
        Session.objects.bulk_create([Session(**row) for row in rows])
        assert client.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED

    def test_in_use__never_ends_at_the_lowest_idle_limit(self, client, settings):
        """Used every 5 s for 70 s with DJANGO_SESSION_IDLE_SECONDS=60."""
        settings.SESSION_IDLE_SECONDS = 60
        for _ in range(14):
            sql(
                "UPDATE sessions SET last_seen_at = last_seen_at - %s, "
                "created_at = created_at - %s",
                [timedelta(seconds=5)] * 2,
            )
            assert client.get("/api/auth/me").status_code == HTTPStatus.OK

    def test_unused__ends_at_the_lowest_idle_limit(self, client, settings):
        settings.SESSION_IDLE_SECONDS = 60
        self.shift("last_seen_at", seconds=62)
        assert client.get("/api/auth/me").json() == {"error": "session expired"}

    def test_signed_out__is_still_authentication_required(self, db):
        response = Client().get("/api/auth/me")
        assert response.json() == {"error": "authentication required"}

    def test_idle_limit__comes_from_the_environment(self, monkeypatch):
        from tests.test_settings import load_settings

        assert load_settings(monkeypatch)["SESSION_IDLE_SECONDS"] == 1800
        loaded = load_settings(monkeypatch, DJANGO_SESSION_IDLE_SECONDS="600")
        assert loaded["SESSION_IDLE_SECONDS"] == 600

    def test_admin__times_out_the_same(self, superuser):
        client = Client()
        client.force_login(superuser)
        assert client.get("/admin/").status_code == HTTPStatus.OK
        self.shift("last_seen_at", minutes=31)
        response = client.get("/admin/")
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"].startswith("/admin/login/")


class TestExpiryTimes:
    """What a frontend needs to warn in time: both limits, in UTC ISO 8601."""

    def test_me__says_when_the_session_ends(self, user):
        client = sign_in(Client())
        row = Session.objects.get()
        me = client.get("/api/auth/me").json()
        expires = datetime.fromisoformat(me["expires_at"])
        idle = datetime.fromisoformat(me["idle_expires_at"])
        # To the millisecond, as the JSON says it.
        close = timedelta(milliseconds=1)
        assert abs(expires - (row.created_at + timedelta(hours=8))) < close
        assert abs(idle - (row.last_seen_at + timedelta(minutes=30))) < close
        assert me["expires_at"].endswith(("Z", "+00:00"))

    def test_sessions__show_both_per_session(self, user, signed_in):
        listed = signed_in[0].get("/api/auth/sessions").json()
        assert len(listed) == 2
        for entry in listed:
            assert datetime.fromisoformat(entry["expires_at"]) > timezone.now()
            assert datetime.fromisoformat(entry["idle_expires_at"]) > timezone.now()

    def test_idle_expiry__moves_with_use_but_the_lifetime_never(self, user):
        client = sign_in(Client())
        first = client.get("/api/auth/me").json()
        sql("UPDATE sessions SET last_seen_at = last_seen_at - interval '5 minutes'")
        client.get("/api/auth/me")  # touched: more than a minute since last seen
        second = client.get("/api/auth/me").json()
        assert second["expires_at"] == first["expires_at"]
        assert datetime.fromisoformat(second["idle_expires_at"]) > (
            datetime.fromisoformat(first["idle_expires_at"]) - timedelta(minutes=5)
        )
