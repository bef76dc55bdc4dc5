"""Log lines: one per event, no secrets, no forged lines, from every logger."""

from __future__ import annotations

import io
import json
import logging
import re
import socket

import psycopg
import pytest

from config.log import RedactSecretsFilter, escape_controls, logfmt, redact
from testsupport.servers import SECRET_KEY, Gunicorn, manage


@pytest.fixture
def app_log():
    """Capture what the configured log handler writes."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactSecretsFilter) for f in h.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


class TestLogging:
    def test_a_dsn__is_logged_without_its_password(self, app_log):
        logging.getLogger("tests").warning(
            "connecting to %s", "postgresql://app:Sup3r-Secret@db:5432/app"
        )
        line = app_log.getvalue()
        assert "Sup3r-Secret" not in line
        assert "postgresql://app:********@db:5432/app" in line

    def test_a_failed_connection__is_logged_on_one_line_without_secrets(self, app_log):
        dsn = "postgresql://app:Sup3r-Secret@127.0.0.1:1/app"
        try:
            psycopg.connect(dsn, connect_timeout=2)
        except psycopg.OperationalError:
            logging.getLogger("tests").exception("could not connect with %s", dsn)
        output = app_log.getvalue()
        assert "Sup3r-Secret" not in output
        assert output.count("\n") == 1
        assert "Traceback" in output  # kept, on the same line

    @pytest.mark.django_db
    def test_axes_lines__name_who_and_where_never_the_password(self, app_log, user):
        from django.test import Client

        Client(REMOTE_ADDR="192.0.2.44").post(
            "/api/auth/login",
            {"username": "\\uni\\jsmith", "password": "Wr0ng-Secret-99"},
            content_type="application/json",
        )
        output = app_log.getvalue()
        assert "AXES" in output
        assert 'user="\\\\UNI\\\\JSMITH" ip=192.0.2.44' in output
        assert "Wr0ng-Secret-99" not in output

    def test_axes_lines__a_typed_name_adds_no_field(self, app_log, user):
        from django.test import Client

        Client(REMOTE_ADDR="192.0.2.44").post(
            "/api/auth/login",
            {"username": "\\uni\\x ip=10.6.6.6", "password": "Wr0ng-Secret-99"},
            content_type="application/json",
        )
        output = app_log.getvalue()
        assert 'user="\\\\UNI\\\\X IP=10.6.6.6" ip=192.0.2.44' in output


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("", '""'),
        (None, "-"),
        ("a b", '"a b"'),
        ("a=b", '"a=b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("\\uni\\x", '"\\\\uni\\\\x"'),
    ],
)
def test_logfmt__quotes_what_could_start_a_field(value, written):
    assert logfmt(k=value) == f"k={written}"

    def test_a_traceback__keeps_its_source_lines_and_hides_secrets(self, app_log):
        def fail(secret):
            csrf_token = secret
            raise ValueError(f"token={csrf_token} password={secret}")  # kept

        secret = "-".join(["Sup3r", "Secret"])  # not in any source line
        try:
            fail(secret)
        except ValueError:
            logging.getLogger("tests").exception("it failed")
        output = app_log.getvalue()
        assert 'raise ValueError(f"token={csrf_token} password={secret}")  # kept' in (
            output
        )
        assert "Sup3r-Secret" not in output
        assert "token=******** password=********" in output

    def test_password_hashes_and_settings__are_redacted(self, app_log, user):
        logger = logging.getLogger("tests")
        logger.error("user %s has %s", user.username, user.password)
        logger.error("settings: %s", {"PASSWORD": "Sup3r-Secret", "USER": "app"})
        logger.error("conninfo: host=db password=Sup3r-Secret user=app")
        output = app_log.getvalue()
        assert user.password not in output
        assert "Sup3r-Secret" not in output
        assert "\\uni\\jsmith" in output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://u:p%40ss@h/d", "postgresql://u:********@h/d"),
        ("password=hunter2 user=x", "password=******** user=x"),
        ("{'PASSWORD': 'hunter2'}", "{'PASSWORD': ********}"),
        ("bcrypt_sha256$$2b$12$abc/def", "********"),
        ("pbkdf2_sha256$1000000$salt$hash=", "********"),
        ("nothing to hide here", "nothing to hide here"),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "password1=hunter2 password2=hunter2",
            "password1=******** password2=********",
        ),
        ("new_password1=hunter2&x=1", "new_password1=********&x=1"),
        ("SECRET_KEY=abc DEBUG=1", "SECRET_KEY=******** DEBUG=1"),
        ("DJANGO_SECRET_KEY=abc", "DJANGO_SECRET_KEY=********"),
        ("passwd=hunter2", "passwd=********"),
        ("Cookie: sessionid=abc; csrftoken=def", "Cookie: ********"),
        (
            "'HTTP_COOKIE': 'sessionid=abc', 'HTTP_HOST': 'x'",
            "'HTTP_COOKIE': ********, 'HTTP_HOST': 'x'",
        ),
        ("Authorization: Bearer abc.def", "Authorization: ********"),
        ("sessionid=abc", "sessionid=********"),
        (r"password='it\'s a secret' user=x", "password=******** user=x"),
        ("postgresql://u:p@ss@h:5432/d", "postgresql://u:********@h:5432/d"),
        # Percent-encoded, as in a logged query string or form body.
        ("q=1&password%3Dhunter2&x=1", "q=1&password%3D********&x=1"),
        ("password%3dhunter2", "password%3d********"),
        ("new_password1%3Ahunter2", "new_password1%3A********"),
    ],
)
def test_redact__by_key_name_and_form(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /a\r\n2026 INFO forged", "GET /a\\r\\n2026 INFO forged"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("line\u2028break", "line\\u2028break"),
        ("plain \\uni\\zoë", "plain \\uni\\zoë"),
    ],
)
def test_escape_controls(text, expected):
    assert escape_controls(text) == expected


class TestEveryLogger:
    @pytest.mark.parametrize("name", ["django", "django.request", "django.server"])
    def test_djangos_loggers__write_only_through_the_filter(self, name):
        logger = logging.getLogger(name)
        while logger is not None:
            # pytest's own capturing handlers aside.
            for handler in logger.handlers:
                if type(handler).__module__.startswith("_pytest"):
                    continue
                assert any(isinstance(f, RedactSecretsFilter) for f in handler.filters)
            logger = logger.parent if logger.propagate else None

    def test_a_malformed_call__is_logged_not_raised(self, app_log):
        logging.getLogger("tests").error("%s and %s password=%s", "one")
        line = app_log.getvalue()
        assert "unformattable arguments" in line
        assert line.count("\n") == 1

    def test_a_forged_line__stays_one_escaped_line(self, app_log):
        logging.getLogger("django.request").warning(
            "Not Found: %s", "/x\r\n2026-01-01 INFO forged \x1b[2J"
        )
        line = app_log.getvalue()
        assert line.count("\n") == 1
        assert "\\r\\n2026-01-01 INFO forged \\x1b[2J" in line


@pytest.mark.django_db(transaction=True)
class TestGunicornLogs:
    @pytest.fixture
    def app(self, database_url, tmp_path):
        app = Gunicorn(
            {"DATABASE_URL": database_url, "DJANGO_SECRET_KEY": SECRET_KEY},
            log=tmp_path / "gunicorn.log",
        )
        yield app
        app.stop()

    @staticmethod
    def output(app) -> str:
        app.stop()  # every line written
        return app.log.read_text(errors="replace")

    def test_lines__are_redacted_and_escaped(self, app):
        app.get("/admin/login/?password=hunter2&sessionid=abc")
        with socket.create_connection(("127.0.0.1", app.port), timeout=5) as raw:
            raw.sendall(b"GET /evil\x1b[2J HTTP/1.1\r\nHost: x\r\n\r\n")
            raw.recv(4096)
        output = self.output(app)
        assert "/admin/login/?password=********&sessionid=********" in output
        assert "hunter2" not in output
        assert "\x1b" not in output

    def test_access_log__has_no_line_for_a_probe_answered_200(self, app):
        assert app.get("/health")[0] == 200
        assert app.get("/health/live?from=balancer")[0] == 200
        assert app.get("/health", method="POST")[0] == 405
        app.get("/admin/login/")  # 301 to HTTPS here: logged all the same
        requests = re.findall(r'"([A-Z]+ \S+) HTTP/1\.1" (\d+)', self.output(app))
        # Two workers write their lines each as they finish: in either order.
        assert sorted(requests) == [
            ("GET /admin/login/", "301"),
            ("POST /health", "405"),
        ]


class TestSqlEcho:
    SCRIPT = """
from accounts.models import User
name = chr(92) + "uni" + chr(92) + "echo"
user = User.objects.create_user(name, password="a-long-pass-phrase")
user.set_password("another-pass-phrase")
user.save()
print("HASH", user.password)
"""

    def run(self, echo, database_url):
        result = manage(
            "shell",
            "--no-imports",
            "-c",
            self.SCRIPT,
            env={
                "DATABASE_URL": database_url,
                "DJANGO_SECRET_KEY": SECRET_KEY,
                "DJANGO_SQL_ECHO": echo,
            },
        )
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines() + result.stderr.splitlines()
        password_hash = next(
            line.split()[1] for line in lines if line.startswith("HASH")
        )
        return [line for line in lines if not line.startswith("HASH")], password_hash

    @pytest.mark.django_db(transaction=True)
    def test_on__logs_each_statement_and_its_duration_without_the_hash(
        self, database_url
    ):
        lines, password_hash = self.run("true", database_url)
        update = [line for line in lines if 'UPDATE "users"' in line]
        assert len(update) == 1, lines
        assert re.search(r"django\.db\.backends: \(\d+\.\d{3}\) UPDATE", update[0])
        assert password_hash.split("$")[-1] not in result_text(lines)
        assert "********" in update[0]

    @pytest.mark.django_db(transaction=True)
    def test_off__logs_no_statement(self, database_url):
        lines, _ = self.run("false", database_url)
        assert not [line for line in lines if "django.db.backends" in line]


def result_text(lines):
    return "\n".join(lines)


class TestJsonFormat:
    """DJANGO_LOG_FORMAT=json: one JSON object a line, redacted as the line is, an
    audit event's fields as fields."""

    SCRIPT = """
import logging
from accounts.models import User
User.objects.create_user(chr(92) + "uni" + chr(92) + "jsonlog")
logging.getLogger("probe").warning("sign-in with password=hunter2\\nforged=1")
"""

    @pytest.mark.django_db(transaction=True)
    def test_django__writes_one_object_a_line(self, database_url):
        result = manage(
            "shell",
            "--no-imports",
            "-c",
            self.SCRIPT,
            env={
                "DATABASE_URL": database_url,
                "DJANGO_SECRET_KEY": SECRET_KEY,
                "DJANGO_LOG_FORMAT": "json",
            },
        )
        assert result.returncode == 0, result.stderr
        entries = [json.loads(line) for line in result.stderr.splitlines()]
        event = next(e for e in entries if e["logger"] == "audit")
        assert (event["event"], event["user"]) == ("user.created", "\\uni\\jsonlog")
        warning = next(e for e in entries if e["logger"] == "probe")
        assert warning["level"] == "WARNING"
        assert warning["message"] == "sign-in with password=********\\nforged=1"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", warning["time"])

    def test_gunicorn__writes_one_object_a_line(self, database_url, tmp_path):
        app = Gunicorn(
            {
                "DATABASE_URL": database_url,
                "DJANGO_SECRET_KEY": SECRET_KEY,
                "DJANGO_LOG_FORMAT": "json",
            },
            log=tmp_path / "gunicorn.log",
        )
        try:
            app.get("/admin/login/?password=hunter2")
        finally:
            app.stop()
        lines = app.log.read_text().splitlines()
        entries = [json.loads(line) for line in lines]
        access = [e for e in entries if "/admin/login/" in e["message"]]
        assert access, lines
        assert "hunter2" not in app.log.read_text()

    def test_another_word__is_one_line_naming_the_variable(self, tmp_path):
        result = manage(
            "check",
            env={
                "DATABASE_URL": "postgresql://u:p@127.0.0.1:1/x",
                "DJANGO_SECRET_KEY": SECRET_KEY,
                "DJANGO_LOG_FORMAT": "xml",
            },
        )
        assert result.returncode != 0
        assert "DJANGO_LOG_FORMAT must be one of LINE, JSON" in result.stderr
