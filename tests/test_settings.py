"""Configuration from the environment: parsing, the live pool, and bad values."""

import os
import subprocess
import sys
from urllib.parse import quote, urlsplit

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper

from accounts.models import User
from config import env as readers
from config.pool import check_connection
from testsupport.servers import ROOT, SECRET_KEY, child_env, copy_project
from testsupport.settings import GOOD, SECRET, load_settings


def run(args, env, cwd=ROOT, *, dotenv=False):
    """Run a child with `env`; with `dotenv`, as a developer's shell would (no
    DJANGO_ENV_FILE), so that a `.env` in `cwd` is read."""
    env = child_env(**{**GOOD, **env})
    if dotenv:
        del env["DJANGO_ENV_FILE"]
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestReaders:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [("true", True), ("On", True), ("1", True), ("false", False), ("", False)],
    )
    def test_boolean__reads_the_usual_words(self, monkeypatch, value, expected):
        monkeypatch.setenv("X_FLAG", value)
        assert readers.boolean("X_FLAG", default=not expected) is expected

    def test_boolean__refuses_other_words(self, monkeypatch):
        monkeypatch.setenv("X_FLAG", "maybe")
        with pytest.raises(
            ImproperlyConfigured, match=r"^X_FLAG must be true or false$"
        ):
            readers.boolean("X_FLAG", default=False)

    def test_defaults__apply_when_unset(self, monkeypatch):
        monkeypatch.delenv("X_NUMBER", raising=False)
        assert readers.integer("X_NUMBER", 7) == 7
        assert readers.number("X_NUMBER", 0.5, minimum=0.1) == 0.5

    @pytest.mark.parametrize("value", ["five", "1.5", "0", "-1", ""])
    def test_integer__refuses_what_is_not_a_whole_number_at_least_1(
        self, monkeypatch, value
    ):
        monkeypatch.setenv("X_NUMBER", value)
        with pytest.raises(
            ImproperlyConfigured,
            match=r"^X_NUMBER must be a whole number of at least 1$",
        ):
            readers.integer("X_NUMBER", 5)

    def test_integer__minimum_0_admits_0(self, monkeypatch):
        monkeypatch.setenv("X_NUMBER", "0")
        assert readers.integer("X_NUMBER", 5, minimum=0) == 0

    @pytest.mark.parametrize("value", ["soon", "nan", "inf", "0.05", ""])
    def test_number__refuses_what_is_not_a_finite_number_at_least_minimum(
        self, monkeypatch, value
    ):
        monkeypatch.setenv("X_NUMBER", value)
        with pytest.raises(
            ImproperlyConfigured, match=r"^X_NUMBER must be a number of at least 0.1$"
        ):
            readers.number("X_NUMBER", 3.0, minimum=0.1)


class TestSettingsModule:
    @pytest.mark.parametrize(
        ("env", "message"),
        [
            ({"DATABASE_URL": ""}, "DATABASE_URL is not set: give a postgresql://"),
            (
                {"DATABASE_URL": f"postgresql://app:{SECRET}@db:port/app"},
                "DATABASE_URL is malformed: expected postgresql://user:password@",
            ),
            (
                {"DATABASE_URL": f"mysql://app:{SECRET}@db/app"},
                "DATABASE_URL must start with postgresql:// (got the scheme 'mysql')",
            ),
            (
                {"DATABASE_URL": f"postgresql://app:{SECRET}@db/"},
                "DATABASE_URL names no database",
            ),
            (
                {"DJANGO_SECRET_KEY": ""},
                "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) is not set (it is "
                "required when DJANGO_DEBUG is false)",
            ),
            ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG must be true or false"),
            (
                {"DJANGO_SECRET_KEY": SECRET * 4},
                "DJANGO_SECRET_KEY is a placeholder or shorter than 50 characters",
            ),
            (
                {"DJANGO_SECRET_KEY": "change-me-to-50-random-characters" + "x" * 20},
                "DJANGO_SECRET_KEY is a placeholder or shorter than 50 characters",
            ),
            (
                {"DJANGO_SECRET_KEY": "django-insecure-" + SECRET_KEY},
                "DJANGO_SECRET_KEY is a placeholder or shorter than 50 characters",
            ),
            (
                {"DB_POOL_MIN_SIZE": "five"},
                "DB_POOL_MIN_SIZE must be a whole number of at least 1",
            ),
            (
                {"DB_POOL_MIN_SIZE": "20", "DB_POOL_MAX_SIZE": "10"},
                "DB_POOL_MIN_SIZE (20) must not exceed DB_POOL_MAX_SIZE (10)",
            ),
            (
                {"DB_POOL_TIMEOUT": "nan"},
                "DB_POOL_TIMEOUT must be a number of at least 0.1",
            ),
            (
                {"DJANGO_SECURE_HSTS_SECONDS": "-1"},
                "DJANGO_SECURE_HSTS_SECONDS must be a whole number of at least 0",
            ),
            (
                {"DJANGO_LOG_LEVEL": "LOUD"},
                "DJANGO_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
            ),
            (
                {"DJANGO_MFA_KEY": ""},
                "DJANGO_MFA_KEY (or DJANGO_MFA_KEY_FILE) is not set (it is required "
                "when DJANGO_DEBUG is false)",
            ),
            (
                {"DJANGO_MFA_KEY": SECRET},
                "DJANGO_MFA_KEY must be comma-separated keys of 32 url-safe base64",
            ),
            (
                {"DJANGO_MFA_KEY": "Y2hhbmdlLW1lLWNoYW5nZS1tZS1jaGFuZ2UtbWUtMDA="},
                "DJANGO_MFA_KEY is a placeholder",
            ),
            (
                {"DJANGO_TIME_ZONE": "Mars/Olympus_Mons"},
                "DJANGO_TIME_ZONE must be a time zone name such as Europe/Berlin",
            ),
            (
                {"DJANGO_MFA_REQUIRED_FOR": "teachers"},
                "DJANGO_MFA_REQUIRED_FOR must list staff, superusers, everyone or none",
            ),
            (
                {"DJANGO_SIGNIN_ADDRESS_FAILURE_LIMIT": "4"},
                "DJANGO_SIGNIN_ADDRESS_FAILURE_LIMIT must be a whole number of at "
                "least 5",
            ),
        ],
    )
    def test_bad_value__raises_naming_the_variable_not_the_secret(
        self, monkeypatch, env, message
    ):
        with pytest.raises(ImproperlyConfigured) as raised:
            load_settings(monkeypatch, **env)
        assert str(raised.value).startswith(message)
        assert SECRET not in str(raised.value)

    def test_env_example__is_refused_as_it_is(self, monkeypatch):
        """Copying .env.example without editing it must not start production."""
        values = dict(
            line.split("=", 1)
            for line in (ROOT / ".env.example").read_text().splitlines()
            if line and not line.startswith("#")
        )
        with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY is a"):
            load_settings(monkeypatch, DJANGO_SECRET_KEY=values["DJANGO_SECRET_KEY"])
        with pytest.raises(ImproperlyConfigured, match="DJANGO_MFA_KEY is a"):
            load_settings(monkeypatch, DJANGO_MFA_KEY=values["DJANGO_MFA_KEY"])

    @pytest.mark.parametrize("variable", ["DATABASE_URL", "PGPASSWORD"])
    def test_env_example_database_passwords__are_refused(self, monkeypatch, variable):
        """.env.example's database passwords must not start production either."""
        values = dict(
            line.split("=", 1)
            for line in (ROOT / ".env.example").read_text().splitlines()
            if line and not line.startswith("#")
        )
        password = urlsplit(values["DATABASE_URL"]).password
        env = {"DATABASE_URL": values["DATABASE_URL"]}
        if variable == "PGPASSWORD":
            env = {"PGPASSWORD": password}
        with pytest.raises(
            ImproperlyConfigured, match="placeholder password"
        ) as raised:
            load_settings(monkeypatch, **env)
        assert password not in str(raised.value)
        loaded = load_settings(monkeypatch, DJANGO_DEBUG="true", **env)
        assert loaded["DEBUG"] is True

    def test_lockout_limits__default_to_5_a_name_and_50_an_address(self, monkeypatch):
        loaded = load_settings(monkeypatch)
        assert (loaded["SIGNIN_FAILURE_LIMIT"], loaded["AXES_FAILURE_LIMIT"]) == (5, 5)
        assert loaded["SIGNIN_ADDRESS_FAILURE_LIMIT"] == 50
        loaded = load_settings(monkeypatch, DJANGO_SIGNIN_ADDRESS_FAILURE_LIMIT="200")
        assert loaded["SIGNIN_ADDRESS_FAILURE_LIMIT"] == 200

    def test_short_key__is_accepted_with_debug_on(self, monkeypatch):
        loaded = load_settings(monkeypatch, DJANGO_SECRET_KEY="short", DJANGO_DEBUG="1")
        assert loaded["SECRET_KEY"] == "short"

    @pytest.mark.parametrize("secure", ["true", "false"])
    def test_cookies__are_secure_with_the_switch(self, monkeypatch, secure):
        loaded = load_settings(monkeypatch, DJANGO_SECURE_COOKIES=secure)
        assert loaded["SESSION_COOKIE_SECURE"] is (secure == "true")
        assert loaded["CSRF_COOKIE_SECURE"] is (secure == "true")
        assert loaded["SESSION_COOKIE_HTTPONLY"] is True
        assert loaded["SESSION_COOKIE_SAMESITE"] == "Lax"

    def test_session_age__comes_from_the_environment(self, monkeypatch):
        loaded = load_settings(monkeypatch)
        assert loaded["SESSION_COOKIE_AGE"] == 8 * 60 * 60
        loaded = load_settings(monkeypatch, DJANGO_SESSION_COOKIE_AGE="900")
        assert loaded["SESSION_COOKIE_AGE"] == 900

    def test_good_values__load(self, monkeypatch):
        loaded = load_settings(monkeypatch, DB_POOL_TIMEOUT="0.5")
        assert loaded["DATABASES"]["default"]["OPTIONS"]["pool"]["timeout"] == 0.5


class TestStartupCommands:
    """A configuration mistake stops each command with one line, no traceback."""

    @pytest.mark.parametrize(
        "command", [["manage.py", "check"], ["manage.py", "migrate"]]
    )
    def test_manage__stops_with_one_line(self, command):
        result = run(command, {"DATABASE_URL": f"mysql://app:{SECRET}@db/app"})
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            "Configuration error: DATABASE_URL must start with postgresql:// "
            "(got the scheme 'mysql')"
        ]
        assert SECRET not in result.stdout + result.stderr

    @pytest.mark.parametrize(
        ("env", "line"),
        [
            (
                {"DATABASE_URL": f"mysql://app:{SECRET}@db/app"},
                "Configuration error: DATABASE_URL must start with postgresql:// "
                "(got the scheme 'mysql')",
            ),
            (
                {"GUNICORN_THREADS": "two"},
                "Configuration error: GUNICORN_THREADS must be a whole number of at "
                "least 1",
            ),
        ],
    )
    def test_gunicorn__stops_with_one_line(self, env, line):
        result = run(
            ["-m", "gunicorn", "--config", "gunicorn.conf.py", "--check-config"], env
        )
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [line]


class TestSecretFiles:
    """Each secret may come from a file its `_FILE` variable names (Docker and
    Kubernetes secrets), never from both."""

    def test_secret_key__from_its_file(self, monkeypatch, tmp_path):
        key = tmp_path / "key"
        key.write_text(f"{SECRET_KEY}-from-a-file\n")
        settings = load_settings(
            monkeypatch, DJANGO_SECRET_KEY="", DJANGO_SECRET_KEY_FILE=str(key)
        )
        assert settings["SECRET_KEY"] == f"{SECRET_KEY}-from-a-file"

    def test_database_password__from_its_file(self, monkeypatch, tmp_path):
        password = tmp_path / "password"
        password.write_text("a real p@ss:word\n")
        settings = load_settings(
            monkeypatch,
            DATABASE_URL="postgresql://app@db:5432/app",
            PGPASSWORD_FILE=str(password),
        )
        assert settings["DATABASES"]["default"]["PASSWORD"] == "a real p@ss:word"

    def test_directory_bind_password__from_its_file(self, monkeypatch, tmp_path):
        password = tmp_path / "bind"
        password.write_text("bind-secret")
        ca = tmp_path / "ca.pem"
        ca.write_text("")
        settings = load_settings(
            monkeypatch,
            DIRECTORY_DOMAINS="UNI",
            DIRECTORY_UNI_URL="ldaps://dc.uni.example",
            DIRECTORY_UNI_BASE_DN="DC=uni,DC=example",
            DIRECTORY_UNI_BIND_DN="CN=svc,DC=uni,DC=example",
            DIRECTORY_UNI_BIND_PASSWORD_FILE=str(password),
            DIRECTORY_UNI_CA_FILE=str(ca),
        )
        assert settings["AUTH_LDAP_UNI_BIND_PASSWORD"] == "bind-secret"

    @pytest.mark.parametrize(
        ("env", "message"),
        [
            (
                {"DJANGO_SECRET_KEY_FILE": "{path}"},
                "DJANGO_SECRET_KEY and DJANGO_SECRET_KEY_FILE are both set: give one",
            ),
            (
                {"DJANGO_SECRET_KEY": "", "DJANGO_SECRET_KEY_FILE": "{missing}"},
                "DJANGO_SECRET_KEY_FILE names a file that cannot be read "
                "(No such file or directory)",
            ),
            (
                {"PGPASSWORD": "x" * 12, "PGPASSWORD_FILE": "{path}"},
                "PGPASSWORD and PGPASSWORD_FILE are both set: give one",
            ),
        ],
    )
    def test_a_wrong_pair__is_one_line_naming_both(
        self, monkeypatch, tmp_path, env, message
    ):
        path = tmp_path / "secret"
        path.write_text(SECRET_KEY)
        filled = {
            name: value.format(path=path, missing=tmp_path / "missing")
            for name, value in env.items()
        }
        with pytest.raises(ImproperlyConfigured) as info:
            load_settings(monkeypatch, **filled)
        assert str(info.value) == message
        assert SECRET_KEY not in str(info.value)


class TestDatabaseUrl:
    @pytest.mark.django_db(transaction=True)
    def test_percent_encoded_password__is_decoded_and_logs_in(self, monkeypatch):
        password = "p@ss:w/rd%?#"
        with connection.cursor() as cursor:
            cursor.execute("CREATE ROLE url_test LOGIN PASSWORD %s", [password])
        try:
            monkeypatch.setenv(
                "URL_UNDER_TEST",
                "postgresql://url_test:p%40ss%3Aw%2Frd%25%3F%23"
                f"@127.0.0.1:{connection.settings_dict['PORT']}/postgres",
            )
            config = readers.database_url("URL_UNDER_TEST")
            assert config["PASSWORD"] == password
            with psycopg.connect(
                host=config["HOST"],
                port=config["PORT"],
                user=config["USER"],
                password=config["PASSWORD"],
                dbname=config["NAME"],
            ) as conn:
                assert conn.execute("SELECT current_user").fetchone() == ("url_test",)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("DROP ROLE url_test")

    @pytest.mark.parametrize("scheme", ["postgres", "postgresql", "pgsql"])
    def test_postgres_schemes__select_django_postgresql_backend(
        self, scheme, monkeypatch
    ):
        monkeypatch.setenv("URL_UNDER_TEST", f"{scheme}://u:p@db:5432/app")
        config = readers.database_url("URL_UNDER_TEST")
        assert config["ENGINE"] == "django.db.backends.postgresql"
        assert (config["HOST"], config["PORT"], config["NAME"]) == ("db", 5432, "app")


@pytest.mark.django_db
class TestConnection:
    def test_server_version__is_postgresql_16(self):
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            assert cursor.fetchone()[0].startswith("16.")
        assert connection.pg_version // 10000 == 16

    def test_pool__reports_the_configured_options(self):
        connection.ensure_connection()
        pool = connection.pool
        assert (pool.min_size, pool.max_size, pool.timeout) == (5, 15, 3.0)
        assert pool.kwargs["connect_timeout"] == 2
        assert pool._check is check_connection
        assert connection.settings_dict["CONN_MAX_AGE"] == 0

    def test_time_zone__is_utc(self):
        with connection.cursor() as cursor:
            cursor.execute("SHOW TimeZone")
            assert cursor.fetchone() == ("UTC",)


class TestDotEnv:
    @pytest.fixture
    def project(self, tmp_path):
        copy_project(tmp_path)
        (tmp_path / ".env").write_text("DJANGO_ALLOWED_HOSTS=from-dotenv.example\n")
        return tmp_path

    PRINT_HOSTS = [
        "manage.py",
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.ALLOWED_HOSTS)",
    ]

    def test_dotenv__is_read_when_present(self, project):
        result = run(self.PRINT_HOSTS, {}, cwd=project, dotenv=True)
        assert result.stdout.strip() == "['from-dotenv.example']", result.stderr

    def test_environment__wins_over_dotenv(self, project):
        result = run(
            self.PRINT_HOSTS,
            {"DJANGO_ALLOWED_HOSTS": "a.example,b.example"},
            project,
            dotenv=True,
        )
        assert result.stdout.strip() == "['a.example', 'b.example']", result.stderr


class TestDatabaseUrlOptions:
    """The URL's query reaches the connection; none is dropped."""

    URL = (
        "postgresql://{user}:{password}@127.0.0.1:{port}/{name}?sslmode=verify-full"
        "&sslrootcert=/nonexistent/root.crt&target_session_attrs=read-write"
        "&options=-c%20statement_timeout%3D1234"
    )

    def test_each_option__is_in_the_connection_parameters(self, monkeypatch):
        loaded = load_settings(
            monkeypatch,
            DATABASE_URL=self.URL.format(user="u", password="p", port=1, name="x"),
        )
        options = loaded["DATABASES"]["default"]["OPTIONS"]
        assert {
            key: options[key]
            for key in ("sslmode", "sslrootcert", "target_session_attrs", "options")
        } == {
            "sslmode": "verify-full",
            "sslrootcert": "/nonexistent/root.crt",
            "target_session_attrs": "read-write",
            "options": "-c statement_timeout=1234",
        }
        assert options["pool"]["check"] is check_connection

    @pytest.mark.django_db
    def test_options__apply_on_a_real_connection(self, monkeypatch):
        """statement_timeout arrives; verify-full refuses a server without TLS."""
        real = connection.settings_dict
        url = self.URL.format(
            user=real["USER"],
            password=quote(real["PASSWORD"], safe=""),
            port=real["PORT"],
            name=real["NAME"],
        )
        loaded = load_settings(monkeypatch, DATABASE_URL=url)
        wrapper = DatabaseWrapper({**real, **_without_pool(loaded)}, alias="url_test")
        params = wrapper.get_connection_params()
        with pytest.raises(psycopg.OperationalError, match="SSL was required"):
            psycopg.connect(**params)
        with psycopg.connect(**{**params, "sslmode": "disable"}) as conn:
            assert conn.execute("SHOW statement_timeout").fetchone() == ("1234ms",)


def _without_pool(loaded):
    database = dict(loaded["DATABASES"]["default"])
    database["OPTIONS"] = {k: v for k, v in database["OPTIONS"].items() if k != "pool"}
    return database


@pytest.mark.django_db(transaction=True)
def test_manage__closes_the_pool_at_exit(database_url):
    """Left to interpreter shutdown, the pool waited 5 s per stopped thread."""
    result = run(
        [
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            "from accounts.models import User; User.objects.count();"
            "from django.db import connection; connection.pool.wait(timeout=10)",
        ],
        {"DATABASE_URL": database_url},
    )
    assert result.returncode == 0, result.stderr
    assert "couldn't stop thread" not in result.stdout + result.stderr


def test_prepared_statements__stay_off(monkeypatch):
    # Django's psycopg default: PgBouncer's transaction mode could not keep them.
    loaded = load_settings(monkeypatch)
    assert "prepare_threshold" not in loaded["DATABASES"]["default"]["OPTIONS"]


@pytest.mark.django_db
def test_iterator__keeps_no_server_side_cursor_open():
    """Behind PgBouncer, a cursor open past its transaction could be on a server
    connection the next transaction does not get: none is, direct or not."""
    for n in range(3):
        User.objects.create_user(f"\\uni\\reader{n}", password=None)
    rows = User.objects.iterator(chunk_size=1)
    assert next(rows).username.startswith("\\uni\\reader")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors")
        assert cursor.fetchone() == (0,)


class TestSuiteIgnoresTheDevelopersDotEnv:
    """`make run`'s `.env`, a copy of `.env.example`, or one naming a test server
    nobody started: the suite's settings (DJANGO_ENV_FILE empty) read none."""

    PRINT = [
        "manage.py",
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.ALLOWED_HOSTS)",
    ]

    @pytest.mark.parametrize(
        "dotenv",
        [
            "DJANGO_SECURE_SSL_REDIRECT=false\nDJANGO_SECURE_HSTS_SECONDS=0\n"
            "DJANGO_ALLOWED_HOSTS=from-dotenv.example\n",
            (ROOT / ".env.example").read_text(),
            "DATABASE_URL_TEST=postgresql://u:p@127.0.0.1:1/nobody\n"
            "DJANGO_ALLOWED_HOSTS=from-dotenv.example\n",
        ],
        ids=["make-run", "env-example", "test-server"],
    )
    def test_child_of_the_suite__reads_no_dotenv(self, tmp_path, dotenv):
        copy_project(tmp_path)
        (tmp_path / ".env").write_text(dotenv)
        result = run(self.PRINT, {}, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == (
            "True 31536000 ['localhost', '127.0.0.1', '[::1]']"
        )

    def test_the_suite_itself__runs_with_dotenv_off(self):
        assert os.environ["DJANGO_ENV_FILE"] == ""
