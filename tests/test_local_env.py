"""The `.env` that `make run` writes: private, and right for every local command."""

import shutil
import stat
import subprocess
import sys

import pytest

from testsupport.servers import ROOT, SECRET_KEY, child_env
from testsupport.settings import load_settings


@pytest.fixture(autouse=True)
def _checkout_dotenv_untouched():
    """Some tests run make in the checkout: its own .env stays as it was (a .env
    of only the added keys would stop a later `make run`)."""
    path = ROOT / ".env"
    before = path.read_bytes() if path.exists() else None
    yield
    assert (path.read_bytes() if path.exists() else None) == before


@pytest.fixture
def dotenv(tmp_path):
    """Run the Makefile's `.env` target in an empty folder; return the file."""
    subprocess.run(
        [
            shutil.which("make"),
            "-f",
            ROOT / "Makefile",
            ".env",
            f"PYTHON={sys.executable}",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    return tmp_path / ".env"


def test_dotenv__is_readable_by_its_owner_only(dotenv):
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600


def test_dotenv__serves_plain_http_locally_with_debug_off(dotenv, monkeypatch):
    """`make manage ARGS=runserver` and gunicorn read the same local switches."""
    values = dict(
        line.split("=", 1)
        for line in dotenv.read_text().splitlines()
        if line and not line.startswith("#")
    )
    loaded = load_settings(monkeypatch, **values)
    assert loaded["DEBUG"] is False
    assert loaded["SECURE_SSL_REDIRECT"] is False
    assert loaded["SESSION_COOKIE_SECURE"] is False
    assert loaded["SECURE_HSTS_SECONDS"] == 0
    assert len(loaded["SECRET_KEY"]) >= 50


@pytest.mark.parametrize(("redirect", "warned"), [("true", True), ("false", False)])
def test_make_run__warns_in_one_line_when_it_would_redirect_to_https(
    tmp_path, redirect, warned
):
    """make run's check of the settings it is about to serve with."""
    makefile = tmp_path / "check.mk"
    makefile.write_text(
        f"include {ROOT / 'Makefile'}\ncheck:\n\t@{sys.executable} -c "
        '"$$HTTPS_WARNING" 8123\n'
    )
    result = subprocess.run(
        [shutil.which("make"), "-s", "-f", makefile, "check"],
        cwd=ROOT,
        env=child_env(
            DJANGO_SECRET_KEY=SECRET_KEY,
            DATABASE_URL="postgresql://u:p@127.0.0.1:1/x",
            DJANGO_SECURE_SSL_REDIRECT=redirect,
        ),
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.strip().splitlines()
    if warned:
        assert lines == [
            "warning: DJANGO_SECURE_SSL_REDIRECT is on: http://127.0.0.1:8123/ "
            "answers 301 to https://, which make run does not serve; see .env"
        ]
    else:
        assert lines == []


def make(*args, database_url, **env):
    """Run a Makefile target in this checkout against `database_url`, without
    remaking the venv or writing a `.env` (the suite's database, as DATABASE_URL)."""
    return subprocess.run(
        [
            shutil.which("make"),
            "-s",
            "-o",
            ".venv/.installed-run",
            "-o",
            ".env",
            "-o",
            ".env-keys",
            f"VENV={sys.prefix}",
            *args,
        ],
        cwd=ROOT,
        env={
            # Not the outer make's variables (`make test ARGS=...`): a new make.
            **{
                k: v
                for k, v in child_env(
                    DATABASE_URL=database_url, DJANGO_SECRET_KEY=SECRET_KEY, **env
                ).items()
                if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "ARGS")
            },
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_make_unlock__clears_a_users_lockout(database_url):
    from axes.models import AccessAttempt

    AccessAttempt.objects.create(
        username="\\UNI\\ADMIN", ip_address="192.0.2.1", failures_since_start=9
    )
    result = make("unlock", "USER=\\uni\\admin", database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "Cleared 9 failed sign-ins of \\uni\\admin." in result.stdout
    assert not AccessAttempt.objects.filter(username="\\UNI\\ADMIN").exists()


def test_make_unlock__without_whom__says_how(database_url):
    result = make("unlock", database_url=database_url)
    assert result.returncode != 0
    assert "make unlock USER=" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_make_manage__passes_the_words_after_it(database_url):
    result = make("manage", "check", "--", "--tag", "models", database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.django_db(transaction=True)
def test_make_manage__passes_each_word_as_typed(database_url):
    from accounts.models import User

    result = make(
        "manage",
        "--",
        "createsuperuser",
        "--noinput",
        "--username",
        "\\uni\\typed",
        database_url=database_url,
        DJANGO_SUPERUSER_PASSWORD="a long enough pass phrase",
    )
    assert result.returncode == 0, result.stderr
    assert User.objects.filter(username="\\uni\\typed").exists()
    quoted = make(
        "manage", "--", "shell", "-c", "print('it\\'s')", database_url=database_url
    )
    assert quoted.stdout.splitlines()[-1] == "it's", quoted.stderr


@pytest.mark.django_db(transaction=True)
def test_make_manage__a_lone_dash_and_standard_input(database_url, tmp_path):
    from accounts.models import User

    roster = tmp_path / "roster.csv"
    roster.write_text("username\n\\uni\\piped\n")
    with roster.open() as stdin:
        result = subprocess.run(
            [
                shutil.which("make"),
                "-s",
                "-o",
                ".venv/.installed-run",
                "-o",
                ".env",
                "-o",
                ".env-keys",
                f"VENV={sys.prefix}",
                "manage",
                "import_users",
                "-",
            ],
            cwd=ROOT,
            stdin=stdin,
            env={
                k: v
                for k, v in child_env(
                    DATABASE_URL=database_url, DJANGO_SECRET_KEY=SECRET_KEY
                ).items()
                if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "ARGS")
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert User.objects.filter(username="\\uni\\piped").exists()
    assert result.stdout == "1 created, 0 updated, 0 blocked, 0 unchanged\n"


@pytest.mark.django_db(transaction=True)
def test_make_manage__a_quoted_word_stays_one__no_word_of_makes_own(
    database_url, tmp_path
):
    quoted = make(
        "manage",
        "--",
        "shell",
        "-c",
        "import sys; print('a  b', 'c:d')",
        database_url=database_url,
    )
    assert quoted.stdout.splitlines()[-1] == "a  b c:d", quoted.stderr
    # A file named as an argument is not a target "up to date".
    roster = tmp_path / "roster.csv"
    roster.write_text("username\n\\uni\\dry\n")
    existing = make(
        "manage",
        "--",
        "import_users",
        str(roster),
        "--dry-run",
        database_url=database_url,
    )
    assert existing.returncode == 0, existing.stderr
    assert "make:" not in existing.stdout + existing.stderr
