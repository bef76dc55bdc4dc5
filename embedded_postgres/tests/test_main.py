"""`python -m embedded_postgres`: what make run and make manage start with."""

import subprocess
import sys

import pytest

from bench.support import ROOT, child_env
from embedded_postgres.server import free_port

PASSWORD = "Sup3r-Secret-pw"


def run_main(cwd, **env):
    return subprocess.run(
        [sys.executable, "-m", "embedded_postgres", "--", "true"],
        cwd=cwd,
        env=child_env(PYTHONPATH=str(ROOT), **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestUnreachableDatabaseUrl:
    """One line: where the URL came from, host and port, the cause, what to do."""

    def test_from_dotenv__says_so_and_how_to_fix_it(self, tmp_path):
        port = free_port()
        (tmp_path / ".env").write_text(
            f"DATABASE_URL=postgresql://app:{PASSWORD}@127.0.0.1:{port}/app\n"
        )
        result = run_main(tmp_path)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f"DATABASE_URL from .env names PostgreSQL at 127.0.0.1:{port}, which "
            "cannot be used (connection refused): start it (docker compose up -d db "
            "for the compose route), or remove DATABASE_URL from .env to use the "
            "embedded PostgreSQL."
        ]
        assert PASSWORD not in result.stdout + result.stderr

    @pytest.mark.django_db
    def test_wrong_password__is_named_as_such(self, tmp_path):
        from django.db import connection

        real = connection.settings_dict
        url = f"postgresql://{real['USER']}:{PASSWORD}@127.0.0.1:{real['PORT']}/x"
        result = run_main(tmp_path, DATABASE_URL=url)
        assert result.returncode == 1
        line = result.stderr.strip()
        assert line.startswith(
            f"DATABASE_URL from the environment names PostgreSQL at "
            f"127.0.0.1:{real['PORT']}, which cannot be used (authentication failed)"
        )
        assert "\n" not in line
        assert PASSWORD not in line

    @pytest.mark.django_db
    def test_reachable__runs_the_command(self, tmp_path, database_url):
        result = run_main(tmp_path, DATABASE_URL=database_url)
        assert result.returncode == 0, result.stderr
        assert result.stderr.strip() == "Using DATABASE_URL from the environment."
