"""import_users and export_users: the directory's CSV in, and out again."""

import io
import json
import sys
from http import HTTPStatus

import bcrypt
import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from accounts.models import Session, User
from audit.models import AuthEvent, Kind
from testsupport.frontend import PASSWORD
from testsupport.servers import SECRET_KEY, manage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _hashers(settings):
    # MD5 for speed (users made by the tests), and the project's plain bcrypt
    # and PBKDF2 for the directory's own hashes; the import accepts no MD5.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "signin.hashers.BoundedBCryptPasswordHasher",
        "signin.hashers.BoundedPBKDF2PasswordHasher",
    ]


def bcrypt_hash(password=PASSWORD, cost=10):
    """A directory's bcrypt, as Django stores it: the import's lowest cost."""
    return "bcrypt$" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()


def run(tmp_path, text, *args, name="users.csv", raw=None):
    """Import `text` (or the bytes `raw`); return the JSON summary."""
    path = tmp_path / name
    path.write_bytes(raw if raw is not None else text.encode())
    out = io.StringIO()
    call_command("import_users", str(path), "--format", "json", *args, stdout=out)
    return json.loads(out.getvalue())


def refused(tmp_path, text=None, *args, raw=None) -> str:
    with pytest.raises(CommandError) as caught:
        run(tmp_path, text, *args, raw=raw)
    return str(caught.value)


def sign_in(username, password=PASSWORD):
    return Client().post(
        "/api/auth/login",
        {"username": username, "password": password},
        content_type="application/json",
    )


def state():
    """Every user's columns that an import may change, updated_at, and where the
    row's version lies (ctid): a rewritten row moves, even in one transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT username, password_hash, is_blocked, updated_at, ctid::text "
            "FROM users ORDER BY username"
        )
        return cursor.fetchall()


class TestCreate:
    def test_creates_users_with_unusable_passwords(self, tmp_path):
        summary = run(tmp_path, "username\n\\uni\\a\n\\uni\\b\n")
        assert summary == {
            "created": 2,
            "updated": 0,
            "blocked": 0,
            "unchanged": 0,
            "dry_run": False,
            "ignored_columns": [],
        }
        user = User.objects.get(username="\\uni\\a")
        assert not user.has_usable_password()
        assert not user.is_blocked
        assert sign_in("\\uni\\a", "").status_code != HTTPStatus.OK

    def test_bare_bcrypt_hashes__sign_in_through_the_api(self, tmp_path):
        rows = ["username,password_hash"]
        for n, prefix in enumerate((b"2a", b"2b", b"2y")):
            hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10, prefix=b"2b"))
            hashed = hashed.replace(b"$2b$", b"$" + prefix + b"$", 1)
            rows.append(f"\\uni\\user{n},{hashed.decode()}")
        run(tmp_path, "\n".join(rows) + "\n")
        for n in range(3):
            assert sign_in(f"\\uni\\user{n}").status_code == HTTPStatus.OK
            assert sign_in(f"\\uni\\user{n}", "wrong").status_code == 401

    def test_django_hashes__sign_in_through_the_api(self, tmp_path):
        hashed = bcrypt_hash()
        run(tmp_path, f"username,password_hash\n\\uni\\jdoe,{hashed}\n")
        assert sign_in("\\uni\\jdoe").status_code == HTTPStatus.OK

    def test_blocked_flag(self, tmp_path):
        run(tmp_path, "username,is_blocked\n\\uni\\a,true\n\\uni\\b,false\n")
        assert User.objects.get(username="\\uni\\a").is_blocked
        assert not User.objects.get(username="\\uni\\b").is_blocked


class TestUpdate:
    def test_another_case__is_the_same_user_stored_as_it_is(self, tmp_path, user):
        summary = run(tmp_path, "username,is_blocked\n\\UNI\\JSMITH,true\n")
        assert (summary["updated"], summary["created"]) == (1, 0)
        assert list(User.objects.values_list("username", "is_blocked")) == [
            ("\\uni\\jsmith", True)
        ]

    def test_only_what_a_column_says(self, tmp_path, user):
        before = User.objects.get().password
        run(tmp_path, "username,is_blocked\n\\uni\\jsmith,\n")
        after = User.objects.get()
        assert after.password == before
        assert not after.is_blocked
        assert sign_in("\\uni\\jsmith").status_code == HTTPStatus.OK

    def test_a_new_hash__ends_the_users_sessions(self, tmp_path, user):
        sign_in("\\uni\\jsmith")
        hashed = bcrypt_hash("a new pass phrase 99")
        run(tmp_path, f"username,password_hash\n\\uni\\jsmith,{hashed}\n")
        assert not Session.objects.filter(user=user).exists()
        assert sign_in("\\uni\\jsmith", "a new pass phrase 99").status_code == 200

    def test_the_same_file_twice__changes_nothing_the_second_time(self, tmp_path):
        hashed = bcrypt_hash()
        text = (
            f"username,password_hash,is_blocked\n\\uni\\a,{hashed},true\n\\uni\\b,,\n"
        )
        run(tmp_path, text)
        before = state()
        summary = run(tmp_path, text)
        assert summary == {
            "created": 0,
            "updated": 0,
            "blocked": 0,
            "unchanged": 2,
            "dry_run": False,
            "ignored_columns": [],
        }
        assert state() == before  # updated_at included: no row was rewritten


class TestAllOrNothing:
    def test_every_error_by_line__nothing_changed(self, tmp_path, user):
        text = (
            "username,password_hash,is_blocked\n"  # line 1
            "\\uni\\good,,\n"  # 2
            "nodomain,,\n"  # 3: not \domain\name
            "\\uni\\bad,notahash,\n"  # 4
            "\\UNI\\GOOD,,\n"  # 5: line 2 again
            "\\uni\\x,,maybe\n"  # 6
            "\\uni\\jsmith,,true\n"  # 7: fine, but nothing may change
        )
        message = refused(tmp_path, text)
        for line, words in [
            (3, "nodomain has no domain: give --domain"),
            (4, "password_hash"),
            (6, "is_blocked"),
        ]:
            assert f"line {line}: " in message
            assert words in message
        assert [row[:3] for row in state()] == [(user.username, user.password, False)]
        assert not User.objects.filter(username="\\uni\\good").exists()

    def test_duplicates_in_the_file__by_line(self, tmp_path):
        message = refused(tmp_path, "username\n\\uni\\a\n\\uni\\b\n\\UNI\\A\n")
        assert "line 4: \\UNI\\A is also on line 2" in message
        assert not User.objects.exists()

    def test_lookalike_of_an_existing_user(self, tmp_path, user):
        message = refused(tmp_path, "username\n\\uni\\jsrnith\n")  # rn for m
        assert "line 2: \\uni\\jsrnith looks like the user \\uni\\jsmith" in message

    def test_lookalikes_inside_the_file(self, tmp_path):
        message = refused(tmp_path, "username\n\\uni\\bill\n\\uni\\bi11\n")
        assert "line 3: \\uni\\bi11 looks like the user \\uni\\bill" in message
        assert not User.objects.exists()

    @pytest.mark.parametrize(
        ("text", "error"),
        [
            ("", "line 1: no header row"),
            ("username,email\n\\uni\\a,a@b\n", "line 2: e-mail 'a@b' is not an e-mail"),
            ("password_hash\nx\n", "line 1: no username column"),
            (
                "username,Username\n\\uni\\a,\\uni\\a\n",
                "line 1: a column is named twice: username",
            ),
            ("username\n\\uni\\a\n\\uni\\b,true\n", "line 3: 2 fields"),
        ],
    )
    def test_bad_files(self, tmp_path, text, error):
        assert error in refused(tmp_path, text)
        assert not User.objects.exists()

    def test_exit_status_1_one_message_no_traceback(self, tmp_path, database_url):
        path = tmp_path / "bad.csv"
        path.write_text("username\nnodomain\n")
        result = manage(
            "import_users",
            str(path),
            env={"DATABASE_URL": database_url, "DJANGO_SECRET_KEY": SECRET_KEY},
        )
        assert result.returncode == 1
        assert "line 2: " in result.stderr
        assert "Traceback" not in result.stderr


class TestBadInput:
    def test_not_utf8__its_line(self, tmp_path):
        raw = b"username\n\\uni\\a\n\\uni\\b\n" + "\\uni\\é\n".encode("latin-1")
        assert "line 4: not UTF-8" in refused(tmp_path, raw=raw)
        assert not User.objects.exists()

    def test_bom_crlf_and_a_trailing_empty_line__import(self, tmp_path):
        raw = "\ufeffusername,is_blocked\r\n\\uni\\a,true\r\n\\uni\\b,false\r\n\r\n"
        assert run(tmp_path, None, raw=raw.encode())["created"] == 2
        assert User.objects.get(username="\\uni\\a").is_blocked

    def test_quoted_field_with_a_comma__imports(self, tmp_path):
        run(tmp_path, 'username,is_blocked\n"\\uni\\smith, john",true\n')
        assert User.objects.get(username="\\uni\\smith, john").is_blocked

    def test_quoted_newline__refused_at_its_line_later_lines_right(self, tmp_path):
        message = refused(tmp_path, 'username\n"\\uni\\a\nb"\n\\uni\\c\nbad\n')
        assert "line 2: " in message  # the name holds a line feed
        assert "line 5: " in message  # the file's own line numbers go on

    def test_a_10_mb_name__refused_at_its_line(self, tmp_path):
        text = "username\n\\uni\\a\n\\uni\\" + "x" * 10_000_000 + "\n"
        message = refused(tmp_path, text)
        assert "line 3: " in message
        assert len(message) < 1000
        assert not User.objects.exists()

    def test_standard_input(self, monkeypatch):
        monkeypatch.setattr(
            sys, "stdin", io.TextIOWrapper(io.BytesIO(b"username\n\\uni\\a\n"))
        )
        call_command("import_users", "-", stdout=io.StringIO())
        assert User.objects.filter(username="\\uni\\a").exists()

    def test_missing_file__one_line(self, tmp_path):
        with pytest.raises(CommandError, match="cannot read"):
            call_command("import_users", str(tmp_path / "nope.csv"))


class TestDryRun:
    def test_same_summary__nothing_written(self, tmp_path, user):
        text = "username,is_blocked\n\\uni\\new,\n\\uni\\jsmith,true\n"
        before = state()
        summary = run(tmp_path, text, "--dry-run")
        assert (summary["created"], summary["updated"]) == (1, 1)
        assert summary["dry_run"] is True
        assert state() == before

    def test_checks_the_same(self, tmp_path):
        assert "line 2: " in refused(tmp_path, "username\nnodomain\n", "--dry-run")


class TestBlockMissing:
    @pytest.fixture
    def directory(self, db):
        for name in ("\\uni\\stays", "\\uni\\leaves", "\\other\\elsewhere"):
            User.objects.create_user(name, password=PASSWORD)
        User.objects.create_user("\\uni\\staffer", password=PASSWORD, is_staff=True)
        User.objects.create_superuser("\\uni\\root", password=PASSWORD)

    def blocked(self):
        return set(
            User.objects.filter(is_blocked=True).values_list("username", flat=True)
        )

    def test_blocks_the_domains_missing_users__ends_their_sessions(
        self, tmp_path, directory
    ):
        sign_in("\\uni\\leaves")
        summary = run(tmp_path, "username\n\\uni\\stays\n", "--block-missing")
        assert summary["blocked"] == 1
        assert self.blocked() == {"\\uni\\leaves"}
        leaver = User.objects.get(username="\\uni\\leaves")
        assert not Session.objects.filter(user=leaver).exists()

    def test_include_staff(self, tmp_path, directory):
        run(tmp_path, "username\n\\uni\\stays\n", "--block-missing", "--include-staff")
        assert self.blocked() == {"\\uni\\leaves", "\\uni\\staffer", "\\uni\\root"}

    def test_without_the_flag__nobody_is_blocked(self, tmp_path, directory):
        run(tmp_path, "username\n\\uni\\stays\n")
        assert self.blocked() == set()


class TestStaffGuard:
    """Without --include-staff, no row changes a staff user or a superuser."""

    @pytest.fixture
    def staff(self, db):
        User.objects.create_superuser("\\uni\\admin", password=PASSWORD)
        User.objects.create_user("\\uni\\staffview", password=PASSWORD, is_staff=True)
        # As production stores them (tests make MD5, which no import accepts).
        User.objects.update(password=bcrypt_hash())

    @pytest.mark.parametrize(
        ("row", "name"),
        [
            ("\\UNI\\ADMIN,{hash},", "\\UNI\\ADMIN"),
            ("\\uni\\admin,,true", "\\uni\\admin"),
            ("\\uni\\staffview,,true", "\\uni\\staffview"),
            ("\\Uni\\StaffView,{hash},false", "\\Uni\\StaffView"),
        ],
    )
    def test_a_change__stops_the_import_naming_its_line(
        self, tmp_path, staff, row, name
    ):
        before = state()
        text = "username,password_hash,is_blocked\n\\uni\\new,,\n"
        message = refused(tmp_path, text + row.format(hash=bcrypt_hash("mine")) + "\n")
        assert f"line 3: {name} is staff or a superuser" in message
        assert "--include-staff" in message
        assert state() == before
        assert sign_in("\\uni\\admin").status_code == HTTPStatus.OK

    def test_with_the_flag__the_change_is_made(self, tmp_path, staff):
        run(tmp_path, "username,is_blocked\n\\uni\\staffview,true\n", "--include-staff")
        assert User.objects.get(username="\\uni\\staffview").is_blocked

    def test_an_export__imports_back_unchanged(self, tmp_path, staff):
        out = io.StringIO()
        call_command("export_users", "--with-hashes", stdout=out)
        before = state()
        summary = run(tmp_path, out.getvalue())
        assert summary["unchanged"] == 2
        assert state() == before


class TestHashRules:
    """Only the project's hashers, with work factors in range (OWASP 2023)."""

    @pytest.mark.parametrize(
        ("hashed", "reason"),
        [
            ("md5$salt$" + "0" * 32, "not a hash this platform can verify"),
            ("sha1$salt$" + "0" * 40, "not a hash this platform can verify"),
            ("5f4dcc3b5aa765d61d8327deb882cf99", "not a hash this platform"),
            ("pbkdf2_sha256$1$salt$" + "A" * 43 + "=", "PBKDF2 iterations 1 is"),
            (
                "pbkdf2_sha256$99000000$salt$" + "A" * 43 + "=",
                "PBKDF2 iterations 99,000,000 is outside 600,000 to 3,000,000",
            ),
            ("bcrypt$$2b$09$" + "a" * 53, "bcrypt cost 9 is outside 10 to 14"),
            ("bcrypt$$2b$15$" + "a" * 53, "bcrypt cost 15 is outside 10 to 14"),
            ("$2b$31$" + "a" * 53, "bcrypt cost 31 is outside 10 to 14"),
            ("bcrypt$$2b$99$" + "a" * 53, "bcrypt cost 99 is outside 10 to 14"),
        ],
    )
    def test_refused__naming_the_line(self, tmp_path, hashed, reason):
        message = refused(
            tmp_path, f"username,password_hash\n\\uni\\a,{hashed}\n", "--dry-run"
        )
        assert f"line 2: password_hash: {reason}" in message
        assert not User.objects.exists()

    def test_pbkdf2_at_owasps_floor__signs_in(self, tmp_path):
        from django.contrib.auth.hashers import PBKDF2PasswordHasher

        hashed = PBKDF2PasswordHasher().encode(PASSWORD, "somesalt", 600_000)
        run(tmp_path, f"username,password_hash\n\\uni\\a,{hashed}\n")
        assert sign_in("\\uni\\a").status_code == HTTPStatus.OK


class TestWho:
    """The audit trail names who imported: the first superuser, or --by."""

    def test_the_import_is_the_first_superusers__in_the_audit_trail(self, tmp_path):
        root = User.objects.create_superuser("\\corp\\root", password=PASSWORD)
        run(tmp_path, "username\n\\uni\\a\n")
        created = User.objects.get(username="\\uni\\a")
        event = AuthEvent.objects.get(kind=Kind.USER_CREATED, user=created)
        assert (event.actor, event.detail) == (root, {"via": "import_users"})
        # The audit trail is the record: not one admin history entry a user.
        assert not LogEntry.objects.exists()

    def test_by__names_the_staff_user(self, tmp_path):
        User.objects.create_superuser("\\corp\\root", password=PASSWORD)
        staffer = User.objects.create_user("\\corp\\ops", is_staff=True)
        run(tmp_path, "username\n\\uni\\a\n", "--by", "\\corp\\ops")
        event = AuthEvent.objects.get(kind=Kind.USER_CREATED, username="\\uni\\a")
        assert event.actor == staffer


class TestExport:
    def export(self, *args):
        out = io.StringIO()
        call_command("export_users", *args, stdout=out)
        return out.getvalue()

    def test_columns__hashes_only_when_asked(self, user):
        assert self.export() == (
            "username,is_blocked,display_name,email\n\\uni\\jsmith,false,,\n"
        )
        with_hashes = self.export("--with-hashes")
        assert with_hashes == (
            "username,is_blocked,display_name,email,password_hash\n"
            f"\\uni\\jsmith,false,,,{user.password}\n"
        )

    @pytest.mark.parametrize("args", [(), ("--with-hashes",)])
    def test_round_trip__imports_back_unchanged(self, tmp_path, args):
        bare = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
        run(
            tmp_path,
            "username,password_hash,is_blocked\n"
            f'\\uni\\a,{bare},true\n"\\uni\\b, c",,false\n',
        )
        before = state()
        exported = self.export(*args)
        summary = run(tmp_path, exported, name="export.csv")
        assert (summary["unchanged"], summary["created"]) == (2, 0)
        assert state() == before
        assert self.export(*args) == exported
