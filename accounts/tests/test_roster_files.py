"""import_users with the files a school's tools write: PowerShell's Export-Csv of
Get-ADUser (with and without Windows PowerShell's #TYPE line; UTF-8 with a BOM,
UTF-16 as `-Encoding Unicode` writes), csvde, and other shapes by --column.
Each fixture file is written here, as those tools write them."""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import io
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from accounts.models import LookalikeApproval, User
from audit.models import AuthEvent, Kind
from testsupport.servers import ROOT, SECRET_KEY, child_env, manage

pytestmark = pytest.mark.django_db
GUID = uuid.UUID("5b8d2c3e-6f1a-4b7e-9c0d-2e4f6a8b1c3d")
# Get-ADUser -Filter * -Properties * | Select SamAccountName,UserPrincipalName,
# DisplayName,GivenName,Surname,Enabled,ObjectGUID,DistinguishedName | Export-Csv
POWERSHELL_COLUMNS = (
    "SamAccountName,UserPrincipalName,DisplayName,GivenName,Surname,Enabled,"
    "ObjectGUID,DistinguishedName"
)
POWERSHELL_ROWS = [
    (
        "jsmith",
        "jsmith@uni.example.edu",
        "Jane Smith",
        "Jane",
        "Smith",
        "True",
        str(GUID),
        "CN=Jane Smith,OU=Students,DC=uni,DC=example,DC=edu",
    ),
    (
        "mmüller",
        "mmuller@uni.example.edu",
        "Max Müller",
        "Max",
        "Müller",
        "False",
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "CN=Max Müller,OU=Students,DC=uni,DC=example,DC=edu",
    ),
]


def powershell(*, type_line: bool) -> str:
    """Export-Csv's text: every field quoted, CRLF; Windows PowerShell 5.1 first
    writes the objects' type."""
    lines = ["#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser"] * type_line
    lines.append(",".join(f'"{c}"' for c in POWERSHELL_COLUMNS.split(",")))
    lines += [",".join(f'"{v}"' for v in row) for row in POWERSHELL_ROWS]
    return "\r\n".join(lines) + "\r\n"


def run(tmp_path, raw: bytes, *args) -> dict:
    path = tmp_path / "roster.csv"
    path.write_bytes(raw)
    out = io.StringIO()
    call_command("import_users", str(path), "--format", "json", *args, stdout=out)
    return json.loads(out.getvalue())


def refused(tmp_path, raw: bytes, *args) -> str:
    with pytest.raises(CommandError) as caught:
        run(tmp_path, raw, *args)
    return str(caught.value)


def assert_powershell_imported():
    jane = User.objects.get(username="\\UNI\\jsmith")
    assert (jane.display_name, jane.directory_guid, jane.is_blocked) == (
        "Jane Smith",
        GUID,
        False,
    )
    assert User.objects.get(username="\\UNI\\mmüller").is_blocked  # Enabled False


class TestPowerShell:
    @pytest.mark.parametrize(
        ("type_line", "encode"),
        [
            (True, lambda text: codecs.BOM_UTF8 + text.encode()),  # -Encoding UTF8
            (False, lambda text: text.encode()),  # PowerShell 7's default
            (True, lambda text: text.encode("utf-16")),  # -Encoding Unicode
        ],
        ids=["utf-8-bom-with-type", "utf-8", "utf-16-le-bom"],
    )
    def test_unmodified_export__imports_with_domain(self, tmp_path, type_line, encode):
        summary = run(
            tmp_path, encode(powershell(type_line=type_line)), "--domain", "UNI"
        )
        assert summary["created"] == 2
        # Named once, not errors: the columns the import has no use for.
        assert summary["ignored_columns"] == ["UserPrincipalName", "DistinguishedName"]
        assert_powershell_imported()

    def test_utf16_little_endian__as_windows_writes_it(self, tmp_path):
        raw = codecs.BOM_UTF16_LE + powershell(type_line=True).encode("utf-16-le")
        run(tmp_path, raw, "--domain", "UNI")
        assert_powershell_imported()

    def test_without_domain__every_bare_name_says_how(self, tmp_path):
        message = refused(tmp_path, powershell(type_line=True).encode())
        assert "nothing imported: 2 errors" in message
        assert "line 3: jsmith has no domain: give --domain" in message
        assert not User.objects.exists()

    def test_text_summary__names_the_columns_not_read(self, tmp_path):
        path = tmp_path / "roster.csv"
        path.write_text(powershell(type_line=False))
        out = io.StringIO()
        call_command("import_users", str(path), "--domain", "UNI", stdout=out)
        assert out.getvalue().splitlines() == [
            "2 created, 0 updated, 0 blocked, 0 unchanged",
            "Columns not read: UserPrincipalName, DistinguishedName",
        ]

    def test_the_same_export_again__changes_nothing(self, tmp_path):
        raw = powershell(type_line=True).encode()
        run(tmp_path, raw, "--domain", "UNI")
        assert run(tmp_path, raw, "--domain", "UNI")["unchanged"] == 2

    def test_a_configured_directory__its_spelling_of_the_domain(
        self, tmp_path, settings
    ):
        from config.directories import Directory

        settings.DIRECTORIES = {
            "uni": Directory(domain="uni", urls=("ldaps://x",), settings_prefix="X_")
        }
        run(tmp_path, powershell(type_line=False).encode(), "--domain", "UNI")
        assert User.objects.filter(username="\\uni\\jsmith").exists()


class TestCsvde:
    def test_dn_samaccountname_useraccountcontrol__and_binary_guid(self, tmp_path):
        guid_hex = GUID.bytes_le.hex()
        text = (
            "DN,objectClass,sAMAccountName,userAccountControl,displayName,mail,"
            "objectGUID\n"
            '"CN=Jane Smith,OU=Students,DC=uni,DC=example,DC=edu",user,jsmith,512,'
            f"Jane Smith,jsmith@uni.example.edu,X'{guid_hex}'\n"
            '"CN=Bo Li,OU=Students,DC=uni,DC=example,DC=edu",user,boli,514,Bo Li,,\n'
        )
        summary = run(tmp_path, text.encode("utf-16"), "--domain", "UNI")
        assert summary["ignored_columns"] == ["DN", "objectClass"]
        jane = User.objects.get(username="\\UNI\\jsmith")
        assert (jane.email, jane.directory_guid, jane.is_blocked) == (
            "jsmith@uni.example.edu",
            GUID,
            False,
        )
        assert User.objects.get(username="\\UNI\\boli").is_blocked  # 514: disabled


class TestOtherShapes:
    def test_column__names_the_username_column(self, tmp_path):
        raw = b"Login,Name\nkim,Kim Lee\n"
        summary = run(
            tmp_path,
            raw,
            "--domain",
            "lab",
            "--column",
            "username=Login",
            "--column",
            "display_name=Name",
        )
        assert summary["ignored_columns"] == []
        assert User.objects.get(username="\\lab\\kim").display_name == "Kim Lee"

    def test_column__a_column_that_is_not_there(self, tmp_path):
        message = refused(tmp_path, b"Login\nkim\n", "--column", "username=Nope")
        assert "--column username=nope: no such column in the file" in message

    def test_column__an_unknown_field(self, tmp_path):
        with pytest.raises(CommandError, match="FIELD one of username"):
            run(tmp_path, b"Login\nkim\n", "--column", "shoe_size=Login")

    def test_given_and_surname__make_the_display_name_when_there_is_none(
        self, tmp_path
    ):
        run(
            tmp_path,
            b"SamAccountName,GivenName,Surname\nab,Ann,Bell\n",
            "--domain",
            "u",
        )
        assert User.objects.get().display_name == "Ann Bell"


class TestEveryError:
    def test_row_and_set_checks__all_in_one_run(self, tmp_path):
        User.objects.create_user("\\uni\\jsmith")
        User.objects.create_superuser("\\uni\\root", password="x" * 20)
        text = (
            "username,is_blocked,email\n"  # 1
            "\\uni\\a,maybe,\n"  # 2: a row error
            "\\uni\\b,,\n"  # 3
            "\\UNI\\B,,\n"  # 4: line 3 again
            "\\uni\\jsrnith,,\n"  # 5: looks like \uni\jsmith
            "\\uni\\root,true,\n"  # 6: a superuser
            "\\uni\\c,,not-an-address\n"  # 7: a row error
        )
        message = refused(tmp_path, text.encode())
        assert message.splitlines() == [
            "nothing imported: 5 errors",
            "line 2: is_blocked must be true or false",
            "line 4: \\UNI\\B is also on line 3",
            "line 5: \\uni\\jsrnith looks like the user \\uni\\jsmith",
            "line 6: \\uni\\root is staff or a superuser: changing them needs "
            "--include-staff",
            "line 7: e-mail 'not-an-address' is not an e-mail address",
        ]

    def test_one_error__is_one_error(self, tmp_path):
        assert "nothing imported: 1 error\n" in refused(tmp_path, b"username\nx\n")

    def test_over_the_cap__listed_up_to_it_and_the_rest_counted(self, tmp_path):
        text = "username\n" + "".join(f"bare{n}\n" for n in range(130))
        message = refused(tmp_path, text.encode())
        lines = message.splitlines()
        assert lines[0] == "nothing imported: 130 errors"
        assert len([line for line in lines if line.startswith("line ")]) == 100
        assert lines[-1] == "... and 30 more errors"

    def test_a_guid_of_another_user__refused(self, tmp_path):
        User.objects.create_user("\\uni\\old", directory_guid=GUID)
        text = f"SamAccountName,ObjectGUID\nnew,{GUID}\n"
        assert "line 2: \\uni\\new has the ObjectGUID of the user \\uni\\old" in (
            refused(tmp_path, text.encode(), "--domain", "uni")
        )


class TestLookalikeApproval:
    ROSTER = b"SamAccountName,DisplayName\nrnash,Robert Nash\nmash,Mary Ash\n"

    def test_two_real_people__refused_without_approval(self, tmp_path):
        message = refused(tmp_path, self.ROSTER, "--domain", "LINCOLN")
        assert "line 3: \\LINCOLN\\mash looks like the user \\LINCOLN\\rnash" in message
        assert not User.objects.exists()

    def test_approved__both_imported__audited__db_still_refuses_others(self, tmp_path):
        root = User.objects.create_superuser("\\corp\\root", password="x" * 20)
        args = ("--domain", "LINCOLN", "--allow-lookalike", "\\LINCOLN\\mash")
        assert run(tmp_path, self.ROSTER, *args)["created"] == 2
        approval = LookalikeApproval.objects.get()
        assert (approval.username, approval.looks_like, approval.approved_by) == (
            "\\LINCOLN\\mash",
            "\\LINCOLN\\rnash",
            root,
        )
        event = AuthEvent.objects.get(kind=Kind.LOOKALIKE_APPROVED)
        assert event.actor == root
        # Approved before the user is made: the event names them.
        assert event.username == "\\LINCOLN\\mash"
        with (
            pytest.raises(IntegrityError),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "INSERT INTO users (username, password_hash) VALUES (%s, '!')",
                ["\\LINCOLN\\rn\u0430sh"],  # a Cyrillic a: nobody approved it
            )

    def test_needs_domain__names_from_the_directory_only(self, tmp_path):
        raw = b"username\n\\uni\\alice\n"
        with pytest.raises(CommandError, match="--allow-lookalike needs --domain"):
            run(tmp_path, raw, "--allow-lookalike", "\\uni\\alice")

    def test_a_name_that_looks_like_nobody__nothing_to_approve(self, tmp_path):
        raw = b"SamAccountName\nzed\n"
        message = refused(tmp_path, raw, "--domain", "u", "--allow-lookalike", "zed")
        assert "--allow-lookalike \\u\\zed: looks like no other user" in message
        assert not LookalikeApproval.objects.exists()

    def test_dry_run__approves_nothing(self, tmp_path):
        args = ("--domain", "LINCOLN", "--allow-lookalike", "mash", "--dry-run")
        assert run(tmp_path, self.ROSTER, *args)["created"] == 2
        assert not LookalikeApproval.objects.exists()
        assert not User.objects.exists()


@pytest.mark.django_db(transaction=True)
class TestOutput:
    def env(self, database_url):
        return {"DATABASE_URL": database_url, "DJANGO_SECRET_KEY": SECRET_KEY}

    def test_json__alone_on_stdout__the_run_on_stderr(self, tmp_path, database_url):
        path = tmp_path / "roster.csv"
        path.write_text("username\n" + "".join(f"\\uni\\s{n}\n" for n in range(50)))
        done = manage(
            "import_users", str(path), "--format", "json", env=self.env(database_url)
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["created"] == 50
        assert "event=" not in done.stdout + done.stderr  # one line, not fifty
        assert f"import_users {path}: 50 created" in done.stderr

    def test_on_a_terminal__a_bar_names_each_step(self, tmp_path, database_url):
        path = tmp_path / "roster.csv"
        path.write_text("username\n\\uni\\a\n")
        leader, follower = pty.openpty()
        # A terminal of 80 columns (a new pty has none: the bar would be cut to 0).
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        try:
            done = subprocess.run(
                [sys.executable, "manage.py", "import_users", str(path)],
                cwd=ROOT,
                env=child_env(**self.env(database_url)),
                stdout=subprocess.PIPE,
                stderr=follower,
                timeout=60,
                check=False,
            )
            os.close(follower)
            drawn = b""
            with contextlib.suppress(OSError):  # EIO: the writer is gone
                while chunk := os.read(leader, 4096):
                    drawn += chunk
        finally:
            os.close(leader)
        assert done.returncode == 0
        for step in ("reading the file", "checking the file", "creating users"):
            assert step.encode() in drawn

    def test_export_into_head__ends_quietly(self, database_url):
        # About 100 kB: more than a pipe holds, so the export meets the closed end.
        User.objects.bulk_create(User(username=f"\\uni\\s{n}") for n in range(3000))
        env = child_env(**self.env(database_url))
        export = subprocess.Popen(
            [sys.executable, "manage.py", "export_users"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        head = subprocess.run(
            ["head", "-n", "2"], stdin=export.stdout, capture_output=True, check=True
        )
        export.stdout.close()
        errors = export.stderr.read().decode()
        export.wait(timeout=60)
        export.stderr.close()
        assert head.stdout.decode().splitlines()[0] == (
            "username,is_blocked,display_name,email"
        )
        assert "Traceback" not in errors
        assert "BrokenPipe" not in errors

    def test_with_hashes__warns_of_staff_hashes_on_stderr(self, database_url):
        User.objects.create_superuser("\\corp\\root", password="x" * 20)
        done = manage("export_users", "--with-hashes", env=self.env(database_url))
        assert "password hashes of 1 staff user" in done.stderr
        assert "Warning" not in done.stdout
