"""Backups that restore (docker/backup): a backup of a database in use, put back
into a new one, has every row, and its triggers and grants work as before."""

from __future__ import annotations

import os
import subprocess
from urllib.parse import unquote, urlsplit

import psycopg
import pytest
from django.db import connection
from django.test import Client

from embedded_postgres.server import binaries
from testsupport.frontend import PASSWORD
from testsupport.servers import ROOT

pytestmark = pytest.mark.django_db(transaction=True)
RESTORED = "backup_restored"
RUNTIME = "backup_runtime"
TABLES = ("users", "sessions", "auth_events", "axes_accessattempt")
GRANTS = """
SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants
WHERE grantee = %s ORDER BY 1, 2, 3
"""


def script(name: str, url: str, *args: str, **env: str):
    return subprocess.run(
        ["sh", str(ROOT / "docker" / "backup" / name), *args],
        env={
            **os.environ,
            "PATH": f"{binaries()}{os.pathsep}{os.environ['PATH']}",
            "DATABASE_URL": url,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def counts(conn) -> dict[str, int]:
    return {
        table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in TABLES
    }


@pytest.fixture
def in_use(user, database_url):
    """The database with a user signed in, a failed sign-in, their events, and a
    role granted what the runtime role is."""
    Client().post("/admin/login/", {"username": "\\uni\\other", "password": "wrong"})
    signed_in = Client().post(
        "/api/auth/login",
        {"username": user.username, "password": PASSWORD},
        content_type="application/json",
    )
    assert signed_in.status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {RUNTIME}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE ON users, sessions TO {RUNTIME}")
    yield database_url
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {RESTORED} WITH (FORCE)")
        cursor.execute(f"DROP OWNED BY {RUNTIME}")
        cursor.execute(f"DROP ROLE {RUNTIME}")


def test_a_backup__restores_into_a_new_database_with_everything(in_use, tmp_path):
    taken = script("backup.sh", in_use, BACKUP_DIR=str(tmp_path))
    assert taken.returncode == 0, taken.stderr
    (backup,) = tmp_path.glob("counseling-*.dump")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {RESTORED}")
    restored_url = in_use.rsplit("/", 1)[0] + f"/{RESTORED}"
    put_back = script("restore.sh", restored_url, str(backup))
    assert put_back.returncode == 0, put_back.stderr

    with psycopg.connect(in_use) as before, psycopg.connect(restored_url) as after:
        assert counts(after) == counts(before)
        assert all(counts(after).values())
        grants = after.execute(GRANTS, [RUNTIME]).fetchall()
        assert grants == before.execute(GRANTS, [RUNTIME]).fetchall()
        assert grants
        # A block still ends the user's sessions (users_end_sessions) ...
        after.execute("UPDATE users SET is_blocked = true")
        assert after.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
        # ... and the audit trail still refuses to be rewritten.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            after.execute("UPDATE auth_events SET username = 'forged'")


def test_restore__refuses_a_database_that_is_not_empty(in_use, tmp_path):
    assert script("backup.sh", in_use, BACKUP_DIR=str(tmp_path)).returncode == 0
    (backup,) = tmp_path.glob("counseling-*.dump")
    refused = script("restore.sh", in_use, str(backup))
    assert refused.returncode == 1
    assert "the database is not empty" in refused.stderr


def test_backup__keeps_the_newest(in_use, tmp_path):
    for stamp in ("20250101T000000Z", "20250102T000000Z", "20250103T000000Z"):
        (tmp_path / f"counseling-{stamp}.dump").write_bytes(b"old")
    taken = script("backup.sh", in_use, BACKUP_DIR=str(tmp_path), BACKUP_KEEP="2")
    assert taken.returncode == 0, taken.stderr
    kept = sorted(path.name for path in tmp_path.glob("counseling-*.dump"))
    assert len(kept) == 2
    assert kept[0] == "counseling-20250103T000000Z.dump"
    assert "counseling-2025" not in kept[1]


def test_backup__refuses_a_wrong_keep(in_use, tmp_path):
    taken = script("backup.sh", in_use, BACKUP_DIR=str(tmp_path), BACKUP_KEEP="all")
    assert taken.returncode == 2
    assert taken.stderr.strip() == "BACKUP_KEEP must be a whole number of at least 1"


def test_backup_and_restore__read_the_password_from_pgpassword_file(in_use, tmp_path):
    """As compose's jobs container runs them: the URL without its password, the
    password in the Docker secret PGPASSWORD_FILE names."""
    parts = urlsplit(in_use)
    without = in_use.replace(f":{parts.password}@", "@", 1)
    secret = tmp_path / "app_db_owner_password"
    secret.write_text(unquote(parts.password) + "\n")
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password\n")
    backups = tmp_path / "backups"

    refused = script(
        "backup.sh", without, BACKUP_DIR=str(backups), PGPASSWORD_FILE=str(wrong)
    )
    assert refused.returncode != 0
    assert "password authentication failed" in refused.stderr
    taken = script(
        "backup.sh", without, BACKUP_DIR=str(backups), PGPASSWORD_FILE=str(secret)
    )
    assert taken.returncode == 0, taken.stderr
    (backup,) = backups.glob("counseling-*.dump")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {RESTORED}")
    restored = without.rsplit("/", 1)[0] + f"/{RESTORED}"
    put_back = script("restore.sh", restored, str(backup), PGPASSWORD_FILE=str(secret))
    assert put_back.returncode == 0, put_back.stderr
    both = script("backup.sh", without, PGPASSWORD="x", PGPASSWORD_FILE=str(secret))
    assert both.returncode == 2
    assert (
        both.stderr.strip() == "PGPASSWORD and PGPASSWORD_FILE are both set: give one"
    )
