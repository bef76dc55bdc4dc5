"""sync_directory against a real directory: OpenLDAP's slapd with AD's attributes
(a size limit of 1,000 as AD's page size, memberOf). Against Samba's AD DC:
signin/tests/test_directory.py, which shares its DC with the sign-in tests."""

from __future__ import annotations

import io
import json
import logging
from http import HTTPStatus

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client

from accounts.models import LookalikeApproval, Session, User
from audit.models import AuthEvent, Kind
from config.directories import directories
from testsupport import slapd
from testsupport.servers import SECRET_KEY, manage

pytestmark = [pytest.mark.django_db, pytest.mark.slapd]
PASSWORD = "Lincoln-Pass-1"


def use(settings, monkeypatch, **variables) -> dict[str, str]:
    """Configure the directories as DIRECTORY_* variables would; return them."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    found, ldap_settings = directories()
    settings.DIRECTORIES = found
    for name, value in ldap_settings.items():
        setattr(settings, name, value)
    return variables


@pytest.fixture
def lincoln_server():
    if reason := slapd.available():
        pytest.skip(reason)
    server = slapd.Slapd().start()
    yield server
    server.stop()


def lincoln_variables(server, **overrides) -> dict[str, str]:
    return {
        "DIRECTORY_DOMAINS": "lincoln",
        "DIRECTORY_LINCOLN_URL": server.ldap_uri,
        "DIRECTORY_LINCOLN_CA_FILE": server.cafile,
        "DIRECTORY_LINCOLN_BASE_DN": slapd.SUFFIX,
        "DIRECTORY_LINCOLN_BIND_DN": slapd.SERVICE_DN,
        "DIRECTORY_LINCOLN_BIND_PASSWORD": slapd.SERVICE_PASSWORD,
        "DIRECTORY_LINCOLN_STAFF_GROUPS": "Lincoln staff",
        "DIRECTORY_LINCOLN_GROUPS": "Lincoln counselors=Counselors",
        "DIRECTORY_LINCOLN_TIMEOUT": "1",
        **overrides,
    }


@pytest.fixture
def lincoln(settings, monkeypatch, lincoln_server):
    """Ten students in the directory; the staff group nests the counselors'."""
    for n in range(10):
        lincoln_server.add_user(
            f"student{n}",
            PASSWORD,
            f"Student Number{n}",
            mail=f"student{n}@lincoln.example.edu",
        )
    lincoln_server.add_user("mnash", PASSWORD, "Mary Nash")
    lincoln_server.add_group("Lincoln counselors", "mnash")
    lincoln_server.add_group("Lincoln staff")
    lincoln_server.ldapmodify(
        f"dn: cn=Lincoln staff,{slapd.SUFFIX}\nchangetype: modify\n"
        f"add: member\nmember: cn=Lincoln counselors,{slapd.SUFFIX}\n\n"
    )
    use(settings, monkeypatch, **lincoln_variables(lincoln_server))
    return lincoln_server


def sync(*args) -> dict:
    """Run sync_directory --format json; the summary of each domain."""
    out = io.StringIO()
    call_command("sync_directory", "--format", "json", *args, stdout=out)
    return json.loads(out.getvalue())["domains"]


def refused(*args) -> str:
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("sync_directory", *args, stdout=io.StringIO(), stderr=err)
    return f"{err.getvalue()}\n{caught.value}"


def state():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, username, display_name, email, is_blocked, is_staff, "
            "updated_at, ctid::text FROM users ORDER BY username"
        )
        return cursor.fetchall()


def user(name: str) -> User:
    return User.objects.get(username__iexact=f"\\lincoln\\{name}")


def sign_in_session(target: User) -> None:
    """A session of the user's, as a sign-in leaves it."""
    client = Client()
    client.force_login(target)
    assert client.get("/api/auth/me").status_code == HTTPStatus.OK


class TestFirstSync:
    def test_creates_every_user_with_the_directorys_fields(self, lincoln):
        assert sync() == {
            "lincoln": {
                "created": 11,
                "updated": 0,
                "blocked": 0,
                "unblocked": 0,
                "unchanged": 0,
            }
        }
        student = user("student3")
        assert student.display_name == "Student Number3"
        assert student.email == "student3@lincoln.example.edu"
        assert student.directory_guid is not None
        assert not student.has_usable_password()
        assert not student.is_staff

    def test_nested_staff_group__staff_and_their_django_group(self, lincoln):
        sync()
        counselor = user("mnash")
        assert counselor.is_staff  # the counselors' group is in the staff group
        assert list(counselor.groups.values_list("name", flat=True)) == ["Counselors"]

    def test_each_creation__an_event_by_sync_directory__one_log_line(
        self, lincoln, caplog
    ):
        caplog.set_level(logging.INFO)
        sync()
        events = AuthEvent.objects.filter(kind=Kind.USER_CREATED)
        assert events.count() == 11
        assert {e.detail["via"] for e in events} == {"sync_directory"}
        assert not [r for r in caplog.records if r.name == "audit"]
        [line] = [r.getMessage() for r in caplog.records if "sync_directory" in r.name]
        assert line == (
            "sync_directory lincoln: 11 created, 0 updated, 0 blocked, "
            "0 unblocked, 0 unchanged"
        )

    def test_the_same_directory_again__changes_nothing(self, lincoln):
        sync()
        before = state()
        events = AuthEvent.objects.count()
        assert sync()["lincoln"] == {
            "created": 0,
            "updated": 0,
            "blocked": 0,
            "unblocked": 0,
            "unchanged": 11,
        }
        assert state() == before  # no row rewritten (ctid and updated_at)
        assert AuthEvent.objects.count() == events

    def test_adopts_an_imported_user_of_the_name(self, lincoln):
        imported = User.objects.create_user("\\LINCOLN\\student1")
        sync()
        adopted = user("student1")
        assert adopted.pk == imported.pk
        assert adopted.directory_guid is not None
        assert adopted.display_name == "Student Number1"


class TestPaging:
    def test_over_the_directorys_size_limit__every_user(
        self, settings, monkeypatch, tmp_path
    ):
        if reason := slapd.available():
            pytest.skip(reason)
        seed = tmp_path / "seed.ldif"
        count = slapd.SIZE_LIMIT + 250
        seed.write_text("".join(slapd.user_ldif(f"pupil{n:05d}") for n in range(count)))
        server = slapd.Slapd(seed).start()
        try:
            use(settings, monkeypatch, **lincoln_variables(server))
            assert sync()["lincoln"]["created"] == count
        finally:
            server.stop()
        assert User.objects.filter(username__startswith="\\lincoln\\pupil").count() == (
            count
        )


class TestChanges:
    @pytest.fixture
    def synced(self, lincoln):
        sync()
        return lincoln

    def test_a_rename__the_same_user_and_sessions(self, synced):
        before = user("student2")
        sign_in_session(before)
        synced.modify("student2", sAMAccountName="student2-married")
        assert sync()["lincoln"]["updated"] == 1
        after = User.objects.get(pk=before.pk)
        assert after.username == "\\lincoln\\student2-married"
        assert Session.objects.filter(user=after).exists()
        renamed = AuthEvent.objects.get(kind=Kind.USER_RENAMED)
        assert renamed.detail == {
            "from": "\\lincoln\\student2",
            "via": "sync_directory",
        }

    def test_display_name_and_email__updated(self, synced):
        synced.modify(
            "student4", displayName="Stu Four", mail="four@lincoln.example.edu"
        )
        assert sync()["lincoln"]["updated"] == 1
        student = user("student4")
        assert (student.display_name, student.email) == (
            "Stu Four",
            "four@lincoln.example.edu",
        )
        event = AuthEvent.objects.get(kind=Kind.USER_UPDATED)
        assert event.detail["fields"] == ["display_name", "email"]

    def test_disabled__blocked_sessions_end__enabled_again__unblocked(self, synced):
        student = user("student5")
        sign_in_session(student)
        synced.modify("student5", userAccountControl=str(slapd.DISABLED))
        assert sync()["lincoln"]["blocked"] == 1
        student.refresh_from_db()
        assert student.is_blocked
        assert student.blocked_by_directory
        assert not Session.objects.filter(user=student).exists()
        synced.modify("student5", userAccountControl=str(slapd.ENABLED))
        assert sync()["lincoln"]["unblocked"] == 1
        again = User.objects.get(pk=student.pk)  # the same id and history
        assert not again.is_blocked
        assert not again.blocked_by_directory
        assert list(
            AuthEvent.objects.filter(user_id=student.pk)
            .exclude(kind__in=[Kind.SIGNIN_SUCCEEDED, Kind.SESSION_ENDED])
            .order_by("id")
            .values_list("kind", flat=True)
        ) == [Kind.USER_CREATED, Kind.USER_BLOCKED, Kind.USER_UNBLOCKED]

    def test_deleted__blocked__back_with_its_guid__unblocked(self, synced):
        student = user("student6")
        synced.delete("student6")
        assert sync()["lincoln"]["blocked"] == 1
        assert User.objects.get(pk=student.pk).is_blocked
        synced.add_user("student6", PASSWORD, guid=student.directory_guid)
        assert sync()["lincoln"]["unblocked"] == 1
        assert not User.objects.get(pk=student.pk).is_blocked

    def test_blocked_by_staff__stays_blocked_though_enabled(self, synced):
        User.objects.filter(username="\\lincoln\\student7").update(is_blocked=True)
        assert sync()["lincoln"]["unblocked"] == 0
        assert user("student7").is_blocked

    def test_left_the_counselors__leaves_the_django_group_and_staff(self, synced):
        synced.ldapmodify(
            f"dn: cn=Lincoln counselors,{slapd.SUFFIX}\nchangetype: modify\n"
            f"delete: member\nmember: cn=mnash,{slapd.SUFFIX}\n\n"
        )
        # Staff: left as they are, unless --include-staff.
        assert sync()["lincoln"]["updated"] == 0
        assert user("mnash").is_staff
        assert sync("--include-staff")["lincoln"]["updated"] == 1
        counselor = user("mnash")
        assert not counselor.is_staff
        assert not counselor.groups.exists()

    def test_staff_and_superusers__never_blocked_without_the_flag(self, synced):
        User.objects.create_superuser("\\lincoln\\root", password="x" * 20)
        assert sync("--force")["lincoln"]["blocked"] == 0
        assert not User.objects.get(username="\\lincoln\\root").is_blocked
        assert sync("--include-staff", "--force")["lincoln"]["blocked"] == 1
        assert User.objects.get(username="\\lincoln\\root").is_blocked

    def test_other_domains__untouched(self, synced):
        other = User.objects.create_user("\\uni\\student6")
        synced.delete("student6")
        sync()
        other.refresh_from_db()
        assert not other.is_blocked


class TestSafetyLimit:
    @pytest.fixture
    def emptied(self, lincoln):
        sync()
        for n in range(3):
            lincoln.delete(f"student{n}")
        return lincoln

    def test_more_than_the_share__stops_naming_the_number(self, emptied):
        before = state()
        message = refused()
        assert "would block 3 of the domain's 11 users (27%)" in message
        assert "DIRECTORY_LINCOLN_MAX_BLOCK_SHARE (10%)" in message
        assert "--force" in message
        assert state() == before

    def test_force__blocks_them(self, emptied):
        assert sync("--force")["lincoln"]["blocked"] == 3

    def test_a_higher_share__lets_it_through(
        self, emptied, settings, monkeypatch, lincoln_server
    ):
        use(
            settings,
            monkeypatch,
            **lincoln_variables(
                lincoln_server, DIRECTORY_LINCOLN_MAX_BLOCK_SHARE="30%"
            ),
        )
        assert sync()["lincoln"]["blocked"] == 3

    def test_an_empty_directory__blocks_nobody(self, lincoln, settings, monkeypatch):
        sync()
        use(
            settings,
            monkeypatch,
            **lincoln_variables(lincoln, DIRECTORY_LINCOLN_USER_FILTER="(cn=nobody)"),
        )
        # All but the staff member.
        assert "would block 10 of the domain's 11 users (91%)" in refused()
        assert not User.objects.filter(is_blocked=True).exists()


class TestDryRun:
    def test_counts__writes_nothing__no_event(self, lincoln, caplog):
        caplog.set_level(logging.INFO)
        sync()
        lincoln.modify("student1", userAccountControl=str(slapd.DISABLED))
        lincoln.add_user("newcomer", PASSWORD)
        before, events = state(), AuthEvent.objects.count()
        summary = sync("--dry-run")["lincoln"]
        assert (summary["created"], summary["blocked"]) == (1, 1)
        assert state() == before
        assert AuthEvent.objects.count() == events
        assert sync()["lincoln"] == summary


class TestLookalikes:
    @pytest.fixture
    def rnash(self, lincoln):
        lincoln.add_user("rnash", PASSWORD, "Robert Nash")
        return User.objects.create_user("\\lincoln\\rnash", display_name="Robert Nash")

    def test_a_lookalike_of_a_user__refused_naming_both(self, lincoln, rnash):
        lincoln.add_user("mash", PASSWORD, "Mary Ash")  # rn looks like m
        before = state()
        message = refused()
        assert (
            f"cn=mash,{slapd.SUFFIX}: is \\lincoln\\mash, which looks like the user "
            "\\lincoln\\rnash"
        ) in message
        assert state() == before

    def test_approved__both_real_people_go_through__audited(self, lincoln, rnash):
        lincoln.add_user("mash", PASSWORD, "Mary Ash")
        summary = sync("--allow-lookalike", "mash")["lincoln"]
        assert summary["created"] == 12
        approval = LookalikeApproval.objects.get()
        assert (approval.username, approval.looks_like) == (
            "\\lincoln\\mash",
            "\\lincoln\\rnash",
        )
        event = AuthEvent.objects.get(kind=Kind.LOOKALIKE_APPROVED)
        assert event.detail == {
            "looks_like": "\\lincoln\\rnash",
            "via": "sync_directory",
        }
        # The database still refuses a look-alike nobody approved (a Cyrillic a).
        with (
            pytest.raises(IntegrityError),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "INSERT INTO users (username, password_hash) VALUES (%s, '!')",
                ["\\lincoln\\m\u0430sh"],
            )

    def test_approval_of_a_name_not_in_the_directory__refused(self, lincoln, rnash):
        lincoln.add_user("mash", PASSWORD)
        assert "--allow-lookalike \\lincoln\\mas: no entry" in refused(
            "--allow-lookalike", "mas"
        )


class TestBadDirectory:
    def test_stopped__one_line_naming_the_domain_and_variable(self, lincoln):
        sync()
        before = state()
        lincoln.stop()
        message = refused()
        assert (
            "sync_directory lincoln: no server of DIRECTORY_LINCOLN_URL answered"
            in (message)
        )
        assert "Traceback" not in message
        assert state() == before

    def test_wrong_bind_password__names_the_variables_not_the_password(
        self, settings, monkeypatch, lincoln_server
    ):
        use(
            settings,
            monkeypatch,
            **lincoln_variables(
                lincoln_server, DIRECTORY_LINCOLN_BIND_PASSWORD="Wrong-Secret-9"
            ),
        )
        message = refused()
        assert "refused the bind of DIRECTORY_LINCOLN_BIND_DN" in message
        assert "DIRECTORY_LINCOLN_BIND_PASSWORD" in message
        assert "Wrong-Secret-9" not in message

    def test_a_base_dn_that_is_not_there(self, settings, monkeypatch, lincoln_server):
        use(
            settings,
            monkeypatch,
            **lincoln_variables(
                lincoln_server, DIRECTORY_LINCOLN_BASE_DN="ou=gone," + slapd.SUFFIX
            ),
        )
        assert "DIRECTORY_LINCOLN_BASE_DN: the directory has no entry" in refused()

    def test_unknown_domain__and_no_directory(self, lincoln, settings):
        with pytest.raises(CommandError, match="not a directory domain: nope"):
            call_command("sync_directory", "nope")
        settings.DIRECTORIES = {}
        with pytest.raises(CommandError, match="DIRECTORY_DOMAINS is empty"):
            call_command("sync_directory")


@pytest.mark.django_db(transaction=True)
def test_json_alone_on_stdout__exit_status_1_on_failure(database_url, lincoln_server):
    lincoln_server.add_user("student1", PASSWORD)
    env = {
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": SECRET_KEY,
        **lincoln_variables(lincoln_server),
    }
    done = manage("sync_directory", "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["domains"]["lincoln"]["created"] == 1
    assert "sync_directory lincoln: 1 created" in done.stderr  # the log line
    lincoln_server.stop()
    failed = manage("sync_directory", "--format", "json", env=env)
    assert failed.returncode == 1
    assert "error" in json.loads(failed.stdout)["domains"]["lincoln"]
    assert "Traceback" not in failed.stderr
