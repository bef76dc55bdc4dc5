"""A real Active Directory for tests: Samba's domain controller, provisioned into a
temporary folder (`samba-tool domain provision`, a few seconds), LDAPS on
127.0.0.1:636 with a certificate of a CA made for the run.

It needs Debian's samba, samba-ad-dc, samba-ad-provision and root (as CI has);
`available()` says what is missing, for the tests' skip line.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REALM = "UNI.EXAMPLE.EDU"
DOMAIN = "UNI"
BASE_DN = "DC=uni,DC=example,DC=edu"
ADMIN_PASSWORD = "Adm1n-Passw0rd-for-tests"
HOST, PORT = "127.0.0.1", 636
PACKAGES = "samba samba-ad-dc samba-ad-provision krb5-user"


def available(host: str = HOST) -> str | None:
    """None when a DC can run here (on `host`); else why not."""
    if not shutil.which("samba-tool") or not shutil.which("samba"):
        return f"Samba's AD DC is not installed (apt-get install {PACKAGES})"
    if os.geteuid() != 0:
        return "Samba's AD DC provisions only as root"
    with socket.socket() as probe:
        if probe.connect_ex((host, PORT)) == 0:
            return f"{host}:{PORT} is taken: the test DC needs it"
    return None


def _run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{args[0]} {args[1]} failed: {done.stderr[-500:]}")
    return done.stdout


def make_ca(folder: Path, name: str, *, ip: str = HOST) -> dict[str, Path]:
    """A CA and a server certificate it signed for `ip` and localhost."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, csr = folder / "cert.pem", folder / "key.pem", folder / "req.csr"
    ext = folder / "ext.cnf"
    ext.write_text(f"subjectAltName=IP:{ip},DNS:localhost\n")
    openssl = ["openssl"]
    _run(
        *openssl,
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
    )
    _run(
        *openssl,
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        f"/CN={ip}",
    )
    _run(
        *openssl,
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "2",
        "-extfile",
        str(ext),
    )
    key.chmod(0o600)
    return {"ca": ca, "cert": cert, "key": key}


class SambaDC:
    """One provisioned, running domain controller; `tool()` runs samba-tool on it.

    On its own loopback address (`host`), so that two test modules' DCs may run
    at once, on two xdist workers."""

    def __init__(self, host: str = HOST) -> None:
        self.host = host
        self.folder = Path(tempfile.mkdtemp(prefix="samba-dc-"))
        self.tls = make_ca(self.folder / "tls", "Test directory CA", ip=host)
        self.conf = self.folder / "dc" / "etc" / "smb.conf"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ldaps://{self.host}:{PORT}"

    def start(self) -> SambaDC:
        _run(
            "samba-tool",
            "domain",
            "provision",
            f"--realm={REALM}",
            f"--domain={DOMAIN}",
            "--server-role=dc",
            "--dns-backend=NONE",
            f"--adminpass={ADMIN_PASSWORD}",
            f"--targetdir={self.folder / 'dc'}",
            f"--option=interfaces={self.host}/8",
            "--option=bind interfaces only=yes",
        )
        dc = self.folder / "dc"
        text = self.conf.read_text()
        lines = [
            line
            for line in text.splitlines()
            if not line.strip().startswith(("server services", "log file"))
        ]
        at = lines.index("[global]") + 1
        lines[at:at] = [
            "\tserver services = ldap",
            "\ttls enabled = yes",
            f"\ttls keyfile = {self.tls['key']}",
            f"\ttls certfile = {self.tls['cert']}",
            f"\ttls cafile = {self.tls['ca']}",
            f"\tpid directory = {dc}",
            f"\tlog file = {dc / 'samba.log'}",
        ]
        self.conf.write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen(
            ["samba", "-s", str(self.conf), "-F", "--no-process-group"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex((self.host, PORT)) == 0:
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("Samba's DC did not listen on 636 within 30 s")

    def tool(self, *args: str) -> str:
        return _run("samba-tool", *args, "-s", str(self.conf))

    def add_user(self, name: str, password: str, *extra: str) -> None:
        self.tool("user", "add", name, password, *extra)

    def _pids(self) -> list[int]:
        """The DC's processes: its session (start_new_session) holds them all."""
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.getsid(int(entry.name)) == self.process.pid:
                        pids.append(int(entry.name))
                except ProcessLookupError:
                    continue
        return pids

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections; nothing answers."""
        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._pids():
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.thaw()
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)
