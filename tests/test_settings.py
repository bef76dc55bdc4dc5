"""Configuration from the environment: parsing, the live pool, and bad values."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from config import settings as project_settings
from health.ping import check_connection

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-Pa55"


def run(args, env, cwd=ROOT):
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DB_", "DATABASE_URL"))
    }
    return subprocess.run(
        [sys.executable, *args],
        env={
            **base,
            "DJANGO_SECRET_KEY": SECRET,
            "DATABASE_URL": f"postgresql://app:{SECRET}@127.0.0.1:1/app",
            **env,
        },
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


BAD_CONFIGURATIONS = [
    ({"DATABASE_URL": ""}, "DATABASE_URL is not set"),
    (
        {"DATABASE_URL": f"postgresql://app:{SECRET}@db:port/app"},
        "DATABASE_URL is malformed",
    ),
    (
        {"DATABASE_URL": f"mysql://app:{SECRET}@db/app"},
        "DATABASE_URL must start with postgresql://",
    ),
    ({"DATABASE_URL": f"postgresql://app:{SECRET}@db/"}, "DATABASE_URL names no"),
    ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY is not set"),
    ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG must be true or false"),
    ({"DB_POOL_MIN_SIZE": "five"}, "DB_POOL_MIN_SIZE must be a positive integer"),
    ({"DB_POOL_MAX_SIZE": "0"}, "DB_POOL_MAX_SIZE must be a positive integer"),
    ({"DB_POOL_MIN_SIZE": "-1"}, "DB_POOL_MIN_SIZE must be a positive integer"),
    (
        {"DB_POOL_MIN_SIZE": "20", "DB_POOL_MAX_SIZE": "10"},
        "DB_POOL_MIN_SIZE (20) must not exceed DB_POOL_MAX_SIZE (10)",
    ),
    ({"DB_POOL_TIMEOUT": "soon"}, "DB_POOL_TIMEOUT must be a number of at least 0.1"),
    ({"DB_POOL_TIMEOUT": "nan"}, "DB_POOL_TIMEOUT must be a number of at least 0.1"),
    ({"DB_CONNECT_TIMEOUT": "1.5"}, "DB_CONNECT_TIMEOUT must be a positive integer"),
    (
        {"DJANGO_SECURE_HSTS_SECONDS": "-1"},
        "DJANGO_SECURE_HSTS_SECONDS must be a whole number >= 0",
    ),
    ({"DJANGO_LOG_LEVEL": "LOUD"}, "DJANGO_LOG_LEVEL must be one of"),
]


class TestBadConfiguration:
    @pytest.mark.parametrize(("env", "message"), BAD_CONFIGURATIONS)
    def test_manage_check__stops_with_one_line_naming_the_variable(self, env, message):
        result = run(["manage.py", "check"], env)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f"Configuration error: {result.stderr.split(': ', 1)[1].strip()}"
        ]
        assert message in result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert SECRET not in result.stderr + result.stdout

    @pytest.mark.parametrize(
        "command",
        [
            ["manage.py", "migrate"],
            ["-m", "gunicorn", "--config", "gunicorn.conf.py", "--check-config"],
        ],
    )
    def test_startup_commands__stop_with_the_same_line(self, command):
        result = run(command, {"DATABASE_URL": f"mysql://app:{SECRET}@db/app"})
        assert result.returncode == 1
        assert result.stderr.strip() == (
            "Configuration error: DATABASE_URL must start with postgresql:// "
            "(got the scheme 'mysql')"
        )


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
            config = project_settings._database("URL_UNDER_TEST")
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
        config = project_settings._database("URL_UNDER_TEST")
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
        for name in ("config", "accounts", "health", "embedded_postgres"):
            shutil.copytree(ROOT / name, tmp_path / name)
        shutil.copy(ROOT / "manage.py", tmp_path)
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
        result = run(self.PRINT_HOSTS, {}, cwd=project)
        assert result.stdout.strip() == "['from-dotenv.example']", result.stderr

    def test_environment__wins_over_dotenv(self, project):
        result = run(
            self.PRINT_HOSTS, {"DJANGO_ALLOWED_HOSTS": "a.example,b.example"}, project
        )
        assert result.stdout.strip() == "['a.example', 'b.example']", result.stderr
