"""The audit trail: every kind of event, through the API, the admin and raw SQL."""

import io
import json
import logging
from http import HTTPStatus

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.db.backends.signals import connection_created
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Session, User
from accounts.sessions import SessionStore
from audit.models import AuthEvent, Kind
from testsupport.frontend import PASSWORD, Frontend

pytestmark = pytest.mark.django_db
NEW = "a much longer new pass phrase 7"
LAPTOP_PHONE = ("laptop/1.0", "phone/2.0")


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def kinds(**filters):
    """The events' kinds in order, but the fixtures' user.created."""
    events = AuthEvent.objects.filter(**filters).exclude(kind=Kind.USER_CREATED)
    return list(events.order_by("id").values_list("kind", flat=True))


@pytest.fixture
def frontend(user):
    return Frontend("laptop/1.0")  # a user agent of LAPTOP_PHONE


class TestSignIn:
    def test_success__with_address_and_user_agent(self, frontend, user):
        frontend.sign_in()
        event = AuthEvent.objects.get(kind=Kind.SIGNIN_SUCCEEDED)
        assert (event.user_id, event.username) == (user.pk, user.username)
        assert (event.ip, event.user_agent) == ("127.0.0.1", "laptop/1.0")
        assert event.occurred_at is not None

    def test_failure__as_typed_and_linked_to_the_user(self, frontend, user):
        frontend.sign_in(username="\\UNI\\JSMITH", password="wrong")
        frontend.sign_in(username="\\uni\\nobody", password="wrong")
        known, unknown = AuthEvent.objects.filter(kind=Kind.SIGNIN_FAILED).order_by(
            "id"
        )
        assert (known.username, known.user_id) == ("\\UNI\\JSMITH", user.pk)
        assert (unknown.username, unknown.user_id) == ("\\uni\\nobody", None)

    def test_lockout(self, frontend, settings):
        settings.AXES_FAILURE_LIMIT = 2
        for _ in range(3):
            frontend.sign_in(password="wrong")
        assert kinds() == [
            Kind.SIGNIN_FAILED,
            Kind.SIGNIN_LOCKED_OUT,
            Kind.SIGNIN_LOCKED_OUT,
        ]

    def test_signout__not_also_a_session_ended(self, frontend):
        frontend.sign_in()
        frontend.post("/api/auth/logout")
        assert kinds() == [Kind.SIGNIN_SUCCEEDED, Kind.SIGNOUT]

    def test_admin_sign_in(self, superuser):
        client = Client()
        client.post(
            "/admin/login/",
            {"username": superuser.username, "password": PASSWORD},
        )
        assert kinds(user=superuser) == [Kind.SIGNIN_SUCCEEDED]


def event_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "audit"]


class TestLogLines:
    """Each event is one log line, whoever wrote it: the app, a trigger, raw SQL."""

    @pytest.fixture(autouse=True)
    def audit_at_info(self, caplog):
        caplog.set_level(logging.INFO, logger="audit")

    def test_sign_in_and_out(self, frontend, caplog):
        frontend.sign_in(password="wrong")
        frontend.sign_in()
        frontend.post("/api/auth/logout")
        assert event_lines(caplog) == [
            'event=signin.failed user="\\\\uni\\\\jsmith" ip=127.0.0.1',
            'event=signin.succeeded user="\\\\uni\\\\jsmith" ip=127.0.0.1',
            'event=signout user="\\\\uni\\\\jsmith" ip=127.0.0.1',
        ]

    def test_admin_block__written_by_the_trigger(self, admin_client, user, caplog):
        admin_client.post(
            "/admin/accounts/user/",
            {"action": "block", "_selected_action": [str(user.pk)]},
        )
        assert event_lines(caplog) == [
            'event=user.blocked user="\\\\uni\\\\jsmith" ip=198.51.100.7'
        ]

    def test_raw_sql__one_line_per_row(self, db, caplog):
        sql(
            "INSERT INTO users (username, password_hash) "
            "VALUES ('\\uni\\a', '!'), ('\\uni\\b', '!')"
        )
        sql("DELETE FROM users")
        assert event_lines(caplog) == [
            'event=user.created user="\\\\uni\\\\a" ip=-',
            'event=user.created user="\\\\uni\\\\b" ip=-',
            'event=user.deleted user="\\\\uni\\\\a" ip=-',
            'event=user.deleted user="\\\\uni\\\\b" ip=-',
        ]

    def test_once__however_often_the_connection_is_reused(self, db, caplog):
        # As Django does at each checkout of the same connection from the pool.
        for _ in range(3):
            connection_created.send(sender=type(connection), connection=connection)
        sql("INSERT INTO auth_events (kind, username) VALUES ('signin.failed', 'x')")
        assert event_lines(caplog) == ["event=signin.failed user=x ip=-"]

    def test_a_name_cannot_forge_a_line(self, db, caplog):
        sql(
            "INSERT INTO auth_events (kind, username) VALUES ('signin.failed', %s)",
            ["x\nevent=user.deleted"],
        )
        assert event_lines(caplog) == [
            'event=signin.failed user="x\\nevent=user.deleted" ip=-'
        ]

    def test_a_name_cannot_add_fields_to_the_line(self, db, caplog):
        sql(
            "INSERT INTO auth_events (kind, username) VALUES ('signin.failed', %s)",
            ['\\uni\\nobody ip=10.6.6.6 event=signin.succeeded user="\\uni\\admin'],
        )
        assert event_lines(caplog) == [
            "event=signin.failed "
            'user="\\\\uni\\\\nobody ip=10.6.6.6 event=signin.succeeded '
            'user=\\"\\\\uni\\\\admin" ip=-'
        ]


class TestSessions:
    @pytest.fixture
    def laptop_and_phone(self, user):
        laptop, phone = Frontend("laptop/1.0"), Frontend("phone/2.0")
        laptop.sign_in()
        phone.sign_in()
        return laptop, phone

    def test_ended_elsewhere__with_where_from(self, laptop_and_phone, user):
        laptop, _ = laptop_and_phone
        phone = Session.objects.get(user_agent="phone/2.0")
        laptop.post("/api/auth/sessions/end-others")
        event = AuthEvent.objects.get(kind=Kind.SESSION_ENDED)
        assert event.detail == {"session": str(phone.public_id)}
        assert (event.user_id, event.user_agent) == (user.pk, "laptop/1.0")

    def test_expired__when_a_request_finds_it_idle(self, frontend):
        frontend.sign_in()
        sql("UPDATE sessions SET last_seen_at = last_seen_at - interval '31 minutes'")
        frontend.get("/api/auth/me")
        assert kinds()[-1] == Kind.SESSION_EXPIRED
        assert Kind.SESSION_ENDED not in kinds()

    def test_an_expiry__hides_no_later_end_in_its_transaction(self, laptop_and_phone):
        laptop, phone = (Session.objects.get(user_agent=a) for a in LAPTOP_PHONE)
        sql(
            "UPDATE sessions SET last_seen_at = last_seen_at - interval '31 minutes' "
            "WHERE session_key = %s",
            [laptop.session_key],
        )
        with transaction.atomic():
            SessionStore(laptop.session_key).load()
            phone.delete()
        assert kinds()[-2:] == [Kind.SESSION_EXPIRED, Kind.SESSION_ENDED]

    def test_clearsessions__records_nothing(self, frontend):
        frontend.sign_in()
        sql("UPDATE sessions SET expire_date = now() - interval '1 hour'")
        call_command("clearsessions")
        assert kinds() == [Kind.SIGNIN_SUCCEEDED]

    def test_raw_sql_delete__recorded(self, frontend):
        frontend.sign_in()
        sql("DELETE FROM sessions")
        assert kinds()[-1] == Kind.SESSION_ENDED

    def test_a_rotation__hides_no_later_end_in_its_transaction(
        self, laptop_and_phone, user
    ):
        laptop, phone = (Session.objects.get(user_agent=a) for a in LAPTOP_PHONE)
        store = SessionStore(laptop.session_key)
        store.load()
        with transaction.atomic():
            store.cycle_key()
            phone.delete()
        ended = AuthEvent.objects.get(kind=Kind.SESSION_ENDED)
        assert ended.detail == {"session": str(phone.public_id)}

    def test_reauthenticated__its_new_key_no_session_ended(self, frontend):
        frontend.sign_in()
        frontend.post("/api/auth/reauthenticate", {"password": PASSWORD})
        assert kinds() == [Kind.SIGNIN_SUCCEEDED, Kind.REAUTHENTICATED]
        assert frontend.get("/api/auth/me").status_code == HTTPStatus.OK


class TestUsers:
    def test_password_change_through_the_api(self, laptop_and_phone_user):
        laptop = laptop_and_phone_user
        phone = Session.objects.get(user_agent="phone/2.0")
        laptop.post(
            "/api/auth/password", {"current_password": PASSWORD, "new_password": NEW}
        )
        changed = AuthEvent.objects.get(kind=Kind.PASSWORD_CHANGED)
        assert changed.ip == "127.0.0.1"
        assert changed.actor_id is None  # the student, not staff
        # The other session ended with it; this one moved to a new key.
        ended = AuthEvent.objects.get(kind=Kind.SESSION_ENDED)
        assert ended.user_agent == "laptop/1.0"  # where the change came from
        assert ended.detail == {"session": str(phone.public_id)}
        assert laptop.get("/api/auth/me").status_code == HTTPStatus.OK

    def test_raw_sql__create_block_unblock_password_delete(self, db):
        sql("INSERT INTO users (username, password_hash) VALUES ('\\uni\\raw', '!')")
        sql("UPDATE users SET is_blocked = true")
        sql("UPDATE users SET is_blocked = false, password_hash = '!x'")
        sql("UPDATE users SET updated_at = now()")  # nothing to record
        sql("DELETE FROM users")
        assert kinds() == [
            Kind.USER_BLOCKED,
            Kind.USER_UNBLOCKED,
            Kind.PASSWORD_CHANGED,
            Kind.USER_DELETED,
        ]
        assert set(AuthEvent.objects.values_list("username", flat=True)) == {
            "\\uni\\raw"
        }

    def test_deleted__the_history_outlives_the_account(self, frontend, user):
        frontend.sign_in()
        user_id = user.pk
        user.delete()
        events = AuthEvent.objects.all()
        assert {e.user_id for e in events} == {None}
        assert set(kinds()) == {Kind.SIGNIN_SUCCEEDED, Kind.USER_DELETED}
        deleted = AuthEvent.objects.get(kind=Kind.USER_DELETED)
        assert deleted.detail == {"user_id": str(user_id)}

    def test_admin_block__names_the_staff_user_and_address(self, admin_client, user):
        admin_client.post(
            "/admin/accounts/user/",
            {"action": "block", "_selected_action": [str(user.pk)]},
        )
        event = AuthEvent.objects.get(kind=Kind.USER_BLOCKED)
        assert event.user_id == user.pk
        assert event.actor.username == "\\corp\\root"
        assert event.ip == "198.51.100.7"

    def test_import__recorded_by_import_users__logged_once_for_the_run(
        self, tmp_path, db, caplog
    ):
        caplog.set_level(logging.INFO)
        path = tmp_path / "u.csv"
        path.write_text("username,is_blocked\n\\uni\\a,true\n\\uni\\b,\n")
        call_command("import_users", str(path), stdout=io.StringIO())
        assert kinds(kind=Kind.USER_CREATED) == []  # kinds() leaves them out
        created = AuthEvent.objects.filter(kind=Kind.USER_CREATED).order_by("username")
        assert [(e.username, e.detail) for e in created] == [
            ("\\uni\\a", {"via": "import_users"}),
            ("\\uni\\b", {"via": "import_users"}),
        ]
        assert event_lines(caplog) == []
        [run] = [r.getMessage() for r in caplog.records if "import_users" in r.name]
        assert (
            run == f"import_users {path}: 2 created, 0 updated, 0 blocked, 0 unchanged"
        )

    def test_import_dry_run__no_event_and_no_event_line(self, tmp_path, db, caplog):
        caplog.set_level(logging.INFO)
        path = tmp_path / "u.csv"
        path.write_text("username,is_blocked\n\\uni\\a,true\n")
        call_command("import_users", str(path), "--dry-run", stdout=io.StringIO())
        assert not AuthEvent.objects.exists()
        assert not [r for r in caplog.records if r.name == "audit"]

    def test_kind__is_one_of_the_list(self, db):
        with pytest.raises(DatabaseError), transaction.atomic():
            sql("INSERT INTO auth_events (kind) VALUES ('user.hacked')")


@pytest.fixture
def laptop_and_phone_user(user):
    laptop, phone = Frontend("laptop/1.0"), Frontend("phone/2.0")
    laptop.sign_in()
    phone.sign_in()
    return laptop


class TestAppendOnly:
    @pytest.fixture
    def event(self, frontend):
        frontend.sign_in()
        return AuthEvent.objects.get(kind=Kind.SIGNIN_SUCCEEDED)

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE auth_events SET username = 'someone else'",
            "UPDATE auth_events SET user_id = NULL",  # the user still exists
            "DELETE FROM auth_events",
        ],
    )
    def test_raw_sql__refused(self, event, statement):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            sql(statement)
        after = AuthEvent.objects.get(pk=event.pk)
        assert (after.username, after.user_id) == (event.username, event.user_id)

    def test_orm__refused(self, event):
        with pytest.raises(DatabaseError), transaction.atomic():
            AuthEvent.objects.all().delete()


class TestRetention:
    def test_purge__removes_what_is_older_and_records_itself(self, db, settings):
        settings.AUDIT_RETENTION_DAYS = 30
        sql(
            "INSERT INTO auth_events (kind, username, occurred_at) "
            "SELECT 'signin.failed', 'x', now() - interval '40 days' "
            "FROM generate_series(1, 60)"
        )
        # And 60 at as many instants: batches end between them.
        sql(
            "INSERT INTO auth_events (kind, username, occurred_at) "
            "SELECT 'signin.failed', "
            "'x', now() - interval '50 days' - make_interval(secs => n) "
            "FROM generate_series(1, 60) AS n"
        )
        sql("INSERT INTO auth_events (kind, username) VALUES ('signin.failed', 'y')")
        out = io.StringIO()
        call_command("purge_auth_events", "--batch", "50", stdout=out)
        assert "Removed 120 events older than 30 days" in out.getvalue()
        assert kinds() == [Kind.SIGNIN_FAILED, Kind.AUDIT_PURGED]
        purged = AuthEvent.objects.get(kind=Kind.AUDIT_PURGED)
        assert purged.detail["deleted"] == 120

    def test_setting__from_the_environment(self, monkeypatch):
        from tests.test_settings import load_settings

        assert load_settings(monkeypatch)["AUDIT_RETENTION_DAYS"] == 365
        loaded = load_settings(monkeypatch, DJANGO_AUDIT_RETENTION_DAYS="90")
        assert loaded["AUDIT_RETENTION_DAYS"] == 90

    def test_bad_days__one_line(self, db):
        with pytest.raises(CommandError, match="at least 1"):
            call_command("purge_auth_events", "--days", "0")


class TestStudentsOwnEvents:
    def test_last_50_newest_first_never_anothers(self, frontend, user):
        other = User.objects.create_user("\\uni\\adoe", password=PASSWORD)
        for _ in range(60):
            sql(
                "INSERT INTO auth_events (kind, user_id, username, ip) "
                "VALUES ('signin.failed', %s, 'x', '192.0.2.1')",
                [user.pk],
            )
        sql(
            "INSERT INTO auth_events (kind, user_id, username) "
            "VALUES ('signin.failed', %s, 'theirs')",
            [other.pk],
        )
        frontend.sign_in()
        page = frontend.get("/api/auth/events").json()
        assert set(page) == {"results", "next", "previous"}
        events = page["results"]
        assert len(events) == 50
        assert events[0]["kind"] == Kind.SIGNIN_SUCCEEDED
        assert set(events[0]) == {"kind", "occurred_at", "by_staff", "ip", "user_agent"}
        times = [e["occurred_at"] for e in events]
        assert times == sorted(times, reverse=True)
        assert all(e["user_agent"] != "theirs" for e in events)
        theirs = AuthEvent.objects.get(user=other, kind=Kind.SIGNIN_FAILED)
        assert theirs.pk not in [e.get("id") for e in events]

    def test_next__reaches_an_event_pushed_off_the_first_page(self, frontend, user):
        frontend.sign_in()
        for _ in range(60):
            sql(
                "INSERT INTO auth_events (kind, user_id, username) "
                "VALUES ('signin.failed', %s, 'x')",
                [user.pk],
            )
        seen, url = [], "/api/auth/events"
        while url:
            page = frontend.get(url).json()
            seen += page["results"]
            url = page["next"]
        assert [e["kind"] for e in seen].count(Kind.SIGNIN_SUCCEEDED) == 1
        assert len(seen) == AuthEvent.objects.filter(user=user).count() > 60

    def test_staff_actions__show_that_staff_acted_not_from_where(
        self, admin_client, user, frontend
    ):
        admin_client.post(
            "/admin/accounts/user/",
            {"action": "block", "_selected_action": [str(user.pk)]},
        )
        User.objects.filter(pk=user.pk).update(is_blocked=False)
        frontend.sign_in()
        events = frontend.get("/api/auth/events").json()["results"]
        blocked = next(e for e in events if e["kind"] == Kind.USER_BLOCKED)
        assert blocked["by_staff"] is True
        assert blocked["ip"] is None
        assert blocked["user_agent"] == ""
        own = next(e for e in events if e["kind"] == Kind.SIGNIN_SUCCEEDED)
        assert own["by_staff"] is False
        assert own["ip"] == "127.0.0.1"

    def test_signed_out__401(self, db):
        response = Client().get("/api/auth/events")
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json() == {"error": "authentication required"}

    def test_documented(self, db):
        paths = Client().get("/api/openapi.json").json()["paths"]
        assert {"200", "401"} <= set(paths["/api/auth/events"]["get"]["responses"])


# The server ends the app's connection the moment it writes a sign-in's event, as
# a restart or a crash would.
DROP_AT_THE_EVENT = """
CREATE FUNCTION test_drop_connection() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_terminate_backend(pg_backend_pid());
    RETURN NEW;
END;
$$;
CREATE TRIGGER test_drop_connection BEFORE INSERT ON auth_events FOR EACH ROW
    WHEN (NEW.kind = 'signin.succeeded') EXECUTE FUNCTION test_drop_connection();
"""


@pytest.mark.django_db(transaction=True)
class TestFaults:
    @pytest.fixture
    def connection_lost_at_the_event(self):
        sql(DROP_AT_THE_EVENT)
        yield
        sql("DROP FUNCTION test_drop_connection() CASCADE")

    def test_sign_in__503_and_no_session_without_its_event(
        self, user, connection_lost_at_the_event
    ):
        frontend = Frontend()
        response = frontend.sign_in()
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert set(response.json()) == {"error"}
        connection.close()  # as request_finished does, outside the test client
        assert not Session.objects.filter(user=user).exists()
        assert not AuthEvent.objects.filter(kind=Kind.SIGNIN_SUCCEEDED).exists()
        assert frontend.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED


class TestNoSecrets:
    def test_no_password_hash_or_key_anywhere(self, frontend, user, caplog):
        caplog.set_level(logging.DEBUG)
        frontend.sign_in(password="wrong-secret-typed")
        frontend.sign_in()
        key = frontend.client.cookies["sessionid"].value
        frontend.post(
            "/api/auth/password", {"current_password": PASSWORD, "new_password": NEW}
        )
        frontend.post("/api/auth/reauthenticate", {"password": NEW})
        frontend.post("/api/auth/logout")
        user.refresh_from_db()
        rows = json.dumps(list(AuthEvent.objects.values()), default=str)
        for secret in ("wrong-secret-typed", PASSWORD, NEW, key, user.password):
            assert secret not in rows
            assert secret not in caplog.text


class TestAdmin:
    @pytest.fixture
    def events(self, frontend, user):
        frontend.sign_in()
        frontend.sign_in(password="wrong")
        sql(
            "INSERT INTO auth_events (kind, username, ip, occurred_at) VALUES "
            "('signin.failed', '\\lab\\kim', '203.0.113.9', now() - interval '3 days')"
        )

    def test_list__filters_and_search(self, admin_client, events):
        base = "/admin/audit/authevent/"
        assert admin_client.get(base).status_code == HTTPStatus.OK
        failed = admin_client.get(base, {"kind__exact": "signin.failed"})
        assert failed.context["cl"].result_count == 2
        midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
        today = admin_client.get(
            base,
            {
                "kind__exact": "signin.failed",
                "occurred_at__gte": str(midnight),
            },
        )
        assert today.context["cl"].result_count == 1  # not kim's, 3 days ago
        by_name = admin_client.get(base, {"q": "\\lab\\k"})
        assert [e.username for e in by_name.context["cl"].result_list] == ["\\lab\\kim"]
        by_ip = admin_client.get(base, {"q": "203.0.113.9"})
        assert by_ip.context["cl"].result_count == 1

    def test_list__shortens_the_user_agent_keeping_the_whole_on_hover(
        self, admin_client, db
    ):
        agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0 Safari"
        sql(
            "INSERT INTO auth_events (kind, username, user_agent) VALUES "
            "('signout', '\\uni\\jsmith', %s)",
            [agent],
        )
        page = admin_client.get("/admin/audit/authevent/").content.decode()
        assert f'<span title="{agent}">' in page
        shown = page.split(f'<span title="{agent}">', 1)[1].split("</span>", 1)[0]
        assert len(shown) <= 40
        assert shown.endswith("…")

    def test_read_only_for_everyone(self, admin_client, events):
        event = AuthEvent.objects.first()
        assert admin_client.get("/admin/audit/authevent/add/").status_code == 403
        delete = admin_client.post(f"/admin/audit/authevent/{event.pk}/delete/")
        assert delete.status_code == 403
        page = admin_client.get(f"/admin/audit/authevent/{event.pk}/change/")
        assert page.status_code == HTTPStatus.OK
        assert b'name="_save"' not in page.content
        assert AuthEvent.objects.filter(pk=event.pk).exists()

    def test_a_users_page_links_to_their_events(self, admin_client, user, events):
        page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/").content
        link = f"/admin/audit/authevent/?user__id__exact={user.pk}"
        assert link.encode() in page
        theirs = admin_client.get(link)
        assert theirs.status_code == HTTPStatus.OK
        assert {e.user_id for e in theirs.context["cl"].result_list} == {user.pk}

    def test_no_count_of_the_table(self, admin_client, events):
        with CaptureQueriesContext(connection) as queries:
            admin_client.get("/admin/audit/authevent/")
            admin_client.get(
                "/admin/audit/authevent/", {"kind__exact": "signin.failed"}
            )
        counts = [
            q["sql"]
            for q in queries
            if "COUNT(" in q["sql"].upper()
            and "auth_events" in q["sql"]
            and "DATE_TRUNC" not in q["sql"].upper()  # the chart's week
            and "reltuples" not in q["sql"]  # the estimate (exact under 100,000)
        ]
        assert all("LIMIT" in statement for statement in counts), counts

    def test_chart__totals_of_the_last_week_and_month(self, admin_client, events):
        page = admin_client.get("/admin/audit/authevent/")
        for name in ("hourly", "daily"):
            chart = page.context["signin_charts"][name]
            totals = {s["kind"]: s["total"] for s in chart.series}
            assert totals == {
                Kind.SIGNIN_SUCCEEDED: 2,  # the student's, and staff's (force_login)
                Kind.SIGNIN_FAILED: 2,
                Kind.SIGNIN_LOCKED_OUT: 0,
            }, name
        assert page.content.count(b'<svg viewBox="0 0 960 220"') == 2

    def test_an_old_event__only_in_the_months_chart(self, admin_client, events):
        sql(
            "INSERT INTO auth_events (kind, username, occurred_at) VALUES "
            "('signin.failed', 'old', now() - interval '8 days'), "
            "('signin.failed', 'older', now() - interval '31 days')"
        )
        charts = admin_client.get("/admin/audit/authevent/").context["signin_charts"]
        totals = {
            name: {s["kind"]: s["total"] for s in chart.series}[Kind.SIGNIN_FAILED]
            for name, chart in charts.items()
        }
        assert totals == {"hourly": 2, "daily": 3}

    def test_chart__follows_the_lists_filters(self, admin_client, user, events):
        page = admin_client.get(
            "/admin/audit/authevent/", {"kind__exact": "signin.failed"}
        )
        chart = page.context["signin_charts"]["hourly"]
        assert [(s["kind"], s["total"]) for s in chart.series] == [
            (Kind.SIGNIN_FAILED, 2)
        ]
        midnight = timezone.localtime().replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        page = admin_client.get(
            "/admin/audit/authevent/",
            {"kind__exact": "signin.failed", "occurred_at__gte": str(midnight)},
        )
        chart = page.context["signin_charts"]["daily"]
        assert chart.series[0]["total"] == 1  # not kim's, 3 days ago
        # A search counts the matching events themselves.
        page = admin_client.get("/admin/audit/authevent/", {"q": "\\corp"})
        chart = page.context["signin_charts"]["daily"]
        assert {s["kind"]: s["total"] for s in chart.series} == {
            Kind.SIGNIN_SUCCEEDED: 1,
            Kind.SIGNIN_FAILED: 0,
            Kind.SIGNIN_LOCKED_OUT: 0,
        }

    def test_chart__not_drawn_for_a_search_matching_too_many(
        self, admin_client, events, monkeypatch
    ):
        from audit.admin import EventPaginator

        monkeypatch.setattr(EventPaginator, "CAP", 1)
        page = admin_client.get("/admin/audit/authevent/", {"q": "\\"})
        assert page.context["signin_charts"] == {}
        assert b"More than 1 events match" in page.content
        # A kind alone is drawn from the hours, however many events it has (2).
        page = admin_client.get(
            "/admin/audit/authevent/", {"kind__exact": "signin.succeeded"}
        )
        assert set(page.context["signin_charts"]) == {"hourly", "daily"}

    def test_chart__hours_in_the_admins_time_zone(self, admin_client, settings):
        settings.TIME_ZONE = "Asia/Kolkata"  # UTC+05:30
        sql(
            "INSERT INTO auth_events (kind, username, occurred_at) VALUES "
            "('signin.failed', 'x', date_trunc('hour', now()))"
        )
        chart = admin_client.get("/admin/audit/authevent/").context["signin_charts"][
            "hourly"
        ]
        last = chart.rows[-1]
        assert last[0].endswith(":00")
        assert last[1][1] == 1  # this hour's failure, in the last bar
        assert {h.minute for h in [timezone.localtime(b) for b in chart.buckets]} == {
            30
        }
