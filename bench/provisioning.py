"""The roster at the size of a school, in a database of its own:
- import_users: 100,000 new students with hashes, the same file again, and
  1,000,000 rows for the memory, against `COPY` of the same rows straight into a
  table (the ceiling); and 100,000 rows of a PowerShell Export-Csv as AD writes
  it (#TYPE line, BOM, every field quoted, bare names with --domain);
- sync_directory: 100,000 users of slapd with AD's attributes (testsupport.slapd,
  loaded with slapadd), the first run and a second with no change (0 writes).

Each runs `manage.py ... --format json` as an operator would, with a superuser
present (the audit trail names it as the actor); its time is the wall clock,
its memory the peak RSS of that process (wait4).
"""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from bench.report import Row, Target
from testsupport import slapd
from testsupport.servers import ROOT, child_env, manage

DATABASE = "bench_import"
IMPORT_SECONDS = Target("<", 20)
RERUN_SECONDS = Target("<", 10)
RERUN_CHANGES = Target("==", 0)
# Streamed: ten times the rows may not take much more memory.
RSS_GROWTH = Target("<=", 1.5)
SYNC_SECONDS = Target("<", 60)
SYNC_RERUN_SECONDS = Target("<", 20)
SYNC_RSS_MIB = Target("<", 150)
DIRECTORY_USERS = 100_000
ALPHABET = string.ascii_letters + string.digits + "./"


def run(context, args) -> dict:
    env = _database(context, DATABASE)
    url = env["DATABASE_URL"]
    with tempfile.TemporaryDirectory() as folder:
        small = _write(Path(folder) / "100k.csv", 100_000, "school")
        large = _write(Path(folder) / "1m.csv", 1_000_000, "big")
        exported = _write_powershell(Path(folder) / "ad.csv", 100_000)
        report = {
            "ceiling_copy_s": _copy_ceiling(url, small),
            "import": _import(env, small),
            "rerun": _import(env, small),
            # As the first import: into a database with only the superuser; and
            # before the 1,000,000 rows, whose autovacuum and checkpoints would
            # share the 2 cores with it.
            "import_powershell": _import(
                _database(context, f"{DATABASE}_ad"), exported, "--domain", "SCHOOL"
            ),
            "import_1m": _import(env, large),
        }
        report |= _sync(_database(context, f"{DATABASE}_sync"), Path(folder))
    report["ceiling_over_import"] = (
        report["ceiling_copy_s"] / report["import"]["seconds"]
    )
    report["rss_growth_1m_over_100k"] = (
        report["import_1m"]["peak_rss_mib"] / report["import"]["peak_rss_mib"]
    )
    return report


def _database(context, name: str) -> dict:
    """A new database, migrated, with a superuser: the environment to use it."""
    env = {**context.env, "DATABASE_URL": context.server.create_database(name)}
    for command in (
        ["migrate", "--noinput", "-v0"],
        ["createsuperuser", "--noinput", "--username", "\\corp\\admin"],
    ):
        result = manage(*command, env={**env, "DJANGO_SUPERUSER_PASSWORD": "x" * 16})
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {command[0]}: {result.stderr}")
    return env


def _write(path: Path, rows: int, domain: str) -> Path:
    """A directory export: usernames, bare bcrypt hashes (never hashed here)."""
    rng = random.Random(rows)  # noqa: S311 - test data, the same each run
    with path.open("w") as out:
        out.write("username,password_hash,is_blocked\n")
        for n in range(rows):
            salted = "".join(rng.choices(ALPHABET, k=53))
            out.write(f"\\{domain}\\student{n:07d},$2b$12${salted},false\n")
    return path


def _write_powershell(path: Path, rows: int) -> Path:
    """Get-ADUser ... | Select ... | Export-Csv -Encoding UTF8, as PowerShell 5.1
    writes it: its type line, a BOM, every field quoted, CRLF."""
    columns = (
        "SamAccountName",
        "UserPrincipalName",
        "DisplayName",
        "GivenName",
        "Surname",
        "Enabled",
        "ObjectGUID",
        "DistinguishedName",
    )
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write("#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\r\n")
        out.write(",".join(f'"{c}"' for c in columns) + "\r\n")
        for n in range(rows):
            name = f"pupil{n:07d}"
            values = (
                name,
                f"{name}@school.example.edu",
                f"Pupil {n}",
                "Pupil",
                str(n),
                "True" if n % 50 else "False",
                str(uuid.UUID(int=n + 1)),
                f"CN=Pupil {n},OU=Students,DC=school,DC=example,DC=edu",
            )
            out.write(",".join(f'"{v}"' for v in values) + "\r\n")
    return path


def _sync(env: dict, folder: Path) -> dict:
    """sync_directory of DIRECTORY_USERS slapd users, twice."""
    if reason := slapd.available():
        return {"sync_skipped": reason}
    seed = folder / "directory.ldif"
    with seed.open("w") as out:
        for n in range(DIRECTORY_USERS):
            out.write(
                slapd.user_ldif(
                    f"learner{n:06d}",
                    display_name=f"Learner {n}",
                    mail=f"learner{n:06d}@lincoln.example.edu",
                    guid=uuid.UUID(int=10_000_000 + n),
                )
            )
    server = slapd.Slapd(seed).start()
    try:
        directory = {
            **env,
            "DIRECTORY_DOMAINS": "lincoln",
            "DIRECTORY_LINCOLN_URL": server.ldap_uri,
            "DIRECTORY_LINCOLN_CA_FILE": server.cafile,
            "DIRECTORY_LINCOLN_BASE_DN": slapd.SUFFIX,
            "DIRECTORY_LINCOLN_BIND_DN": slapd.SERVICE_DN,
            "DIRECTORY_LINCOLN_BIND_PASSWORD": slapd.SERVICE_PASSWORD,
        }
        first = _timed(directory, "sync_directory")
        events = _events(env["DATABASE_URL"])
        again = _timed(directory, "sync_directory")
        again["events_written"] = _events(env["DATABASE_URL"]) - events
    finally:
        server.stop()
    for result in (first, again):
        counts = result["summary"]["domains"]["lincoln"]
        result["changes"] = sum(
            counts[k] for k in ("created", "updated", "blocked", "unblocked")
        )
    return {"sync": first, "sync_rerun": again}


def _events(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM auth_events").fetchone()[0]


def _import(env: dict, path: Path, *args: str) -> dict:
    result = _timed(env, "import_users", str(path), *args)
    summary = result["summary"]
    result["changes"] = summary["created"] + summary["updated"] + summary["blocked"]
    print(f"import_users {path.name}: {result['seconds']:.1f} s", file=sys.stderr)
    return result


def _timed(env: dict, command: str, *args: str) -> dict:
    """Run `manage.py COMMAND ARGS --format json`: wall clock, peak RSS, summary."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "manage.py", command, *args, "--format", "json"],
            cwd=ROOT,
            env=child_env(**env),
            stdout=out,
            stderr=err,
        )
        # wait4, not wait: the child's own peak RSS comes with its status.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed: {stderr[-2000:]}")
    return {
        "seconds": seconds,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        # Alone on stdout: the whole of it is the JSON.
        "summary": json.loads(stdout),
    }


def _copy_ceiling(url: str, path: Path) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE copy_ceiling (username text, password_hash text, "
            "is_blocked boolean)"
        )
        started = time.monotonic()
        with (
            conn.cursor() as cursor,
            cursor.copy("COPY copy_ceiling FROM STDIN (FORMAT csv, HEADER)") as copy,
            path.open("rb") as data,
        ):
            while chunk := data.read(1 << 20):
                copy.write(chunk)
        seconds = time.monotonic() - started
        conn.execute("DROP TABLE copy_ceiling")
    return seconds


def rows(report: dict) -> list[Row]:
    first, again, large = report["import"], report["rerun"], report["import_1m"]
    return [
        Row(
            "import_users 100,000 new users with hashes, s",
            f"{first['seconds']:.1f}",
            IMPORT_SECONDS,
            first["seconds"],
        ),
        Row(
            "import_users the same file again, s",
            f"{again['seconds']:.1f}",
            RERUN_SECONDS,
            again["seconds"],
        ),
        Row(
            "import_users the same file again, changes",
            str(again["changes"]),
            RERUN_CHANGES,
            again["changes"],
        ),
        Row("COPY of the same rows into a table, s", f"{report['ceiling_copy_s']:.2f}"),
        Row("COPY ceiling / import_users", f"{report['ceiling_over_import']:.2f}"),
        Row(
            "import_users peak RSS at 100,000 / 1,000,000 rows, MiB",
            f"{first['peak_rss_mib']:.0f} / {large['peak_rss_mib']:.0f}",
        ),
        Row(
            "import_users peak RSS, 1,000,000 over 100,000 rows",
            f"{report['rss_growth_1m_over_100k']:.2f}",
            RSS_GROWTH,
            report["rss_growth_1m_over_100k"],
        ),
        Row("import_users 1,000,000 new users, s", f"{large['seconds']:.1f}"),
        Row(
            "import_users 100,000 rows of a PowerShell Export-Csv, s",
            f"{report['import_powershell']['seconds']:.1f}",
            IMPORT_SECONDS,
            report["import_powershell"]["seconds"],
        ),
        *_sync_rows(report),
    ]


def _sync_rows(report: dict) -> list[Row]:
    if "sync_skipped" in report:
        return [Row("sync_directory", f"skipped: {report['sync_skipped']}")]
    first, again = report["sync"], report["sync_rerun"]
    peak = max(first["peak_rss_mib"], again["peak_rss_mib"])
    return [
        Row(
            f"sync_directory {DIRECTORY_USERS:,} directory users, first run, s",
            f"{first['seconds']:.1f}",
            SYNC_SECONDS,
            first["seconds"],
        ),
        Row(
            "sync_directory again, no change, s",
            f"{again['seconds']:.1f}",
            SYNC_RERUN_SECONDS,
            again["seconds"],
        ),
        Row(
            "sync_directory again, changes and events written",
            f"{again['changes']} / {again['events_written']}",
            RERUN_CHANGES,
            again["changes"] + again["events_written"],
        ),
        Row(
            "sync_directory peak RSS, MiB",
            f"{peak:.0f}",
            SYNC_RSS_MIB,
            peak,
        ),
    ]
