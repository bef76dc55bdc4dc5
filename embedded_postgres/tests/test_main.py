"""`python -m embedded_postgres`: what make run and make manage start with."""

import subprocess
import sys

import pytest

from embedded_postgres.server import free_port
from testsupport.servers import ROOT, child_env

PASSWORD = "Sup3r-Secret-pw"


def run_main(cwd, *args, **env):
    """Run `python -m embedded_postgres ARGS` (default: `-- true`) in `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "embedded_postgres", *(args or ("--", "true"))],
        cwd=cwd,
        env=child_env(PYTHONPATH=str(ROOT), **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class TestUnreachableDatabaseUrl:
    """One line: where the URL came from, host and port, the cause, what to do."""

    def test_from_dotenv__says_so_and_how_to_fix_it(self, tmp_path):
        port = free_port()
        (tmp_path / ".env").write_text(
            f"DATABASE_URL=postgresql://app:{PASSWORD}@127.0.0.1:{port}/app\n"
        )
        result = run_main(tmp_path, DJANGO_ENV_FILE=".env")
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f"DATABASE_URL from .env names PostgreSQL at 127.0.0.1:{port}, which "
            "cannot be used (connection refused): start it (docker compose up -d db "
            "for the compose route), or remove DATABASE_URL from .env to use the "
            "embedded PostgreSQL."
        ]
        assert PASSWORD not in result.stdout + result.stderr

    def test_no_env_file__ignores_the_dotenv(self, tmp_path):
        """DJANGO_ENV_FILE empty, as make test sets it: a copied .env.example
        decides nothing."""
        (tmp_path / ".env").write_text(
            f"DATABASE_URL=postgresql://app:{PASSWORD}@127.0.0.1:{free_port()}/app\n"
        )
        result = run_main(tmp_path, "--throwaway", "--", "true", DJANGO_ENV_FILE="")
        assert result.returncode == 0, result.stderr
        assert "from .env" not in result.stderr

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


class TestPort:
    """make run's server listens on one port a checkout: EMBEDDED_PG_PORT (54329)."""

    def run(self, cwd, *command, **env):
        return run_main(cwd, "--data", "pg", "--", *command, **env)

    def test_default__is_54329(self):
        from embedded_postgres.__main__ import DEFAULT_PORT

        assert DEFAULT_PORT == 54329

    def test_the_variable__picks_it_and_psql_is_on_path(self, tmp_path):
        port = free_port()
        result = self.run(
            tmp_path,
            "bash",
            "-c",
            'echo "$DATABASE_URL"; psql "$DATABASE_URL" -Atc "SHOW port"',
            EMBEDDED_PG_PORT=str(port),
        )
        assert result.returncode == 0, result.stderr
        url, shown = result.stdout.split()
        assert f"@127.0.0.1:{port}/" in url
        assert shown == str(port)

    def test_taken__one_line_naming_the_variable(self, tmp_path):
        import socket

        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            result = self.run(tmp_path, "true", EMBEDDED_PG_PORT=str(port))
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1] == (
            f"embedded PostgreSQL: port {port} on 127.0.0.1 is already in use: stop "
            "what listens there or choose another port (EMBEDDED_PG_PORT=...)"
        )

    @pytest.mark.parametrize("value", ["abc", "0", "70000"])
    def test_malformed__one_line(self, tmp_path, value):
        result = self.run(tmp_path, "true", EMBEDDED_PG_PORT=value)
        assert result.returncode == 1
        assert result.stderr.strip() == (
            "EMBEDDED_PG_PORT must be a port number (1 to 65535)"
        )
