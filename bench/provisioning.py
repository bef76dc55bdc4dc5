"""import_users at the size of a school: 100,000 new students with hashes, the same
file again, and 1,000,000 rows for the memory, against `COPY` of the same rows
straight into a table (the ceiling), in a database of its own.

Each import runs `manage.py import_users FILE --format json` as an operator
would, with a superuser present (so the admin's history is written too); its
time is the wall clock, its memory the peak RSS of that process (wait4).
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
from pathlib import Path

import psycopg

from bench.report import Row, Target
from testsupport.servers import ROOT, child_env, manage

DATABASE = "bench_import"
IMPORT_SECONDS = Target("<", 20)
RERUN_SECONDS = Target("<", 10)
RERUN_CHANGES = Target("==", 0)
# Streamed: ten times the rows may not take much more memory.
RSS_GROWTH = Target("<=", 1.5)
ALPHABET = string.ascii_letters + string.digits + "./"


def run(context, args) -> dict:
    url = context.server.create_database(DATABASE)
    env = {**context.env, "DATABASE_URL": url}
    for command in (
        ["migrate", "--noinput", "-v0"],
        ["createsuperuser", "--noinput", "--username", "\\corp\\admin"],
    ):
        result = manage(*command, env={**env, "DJANGO_SUPERUSER_PASSWORD": "x" * 16})
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {command[0]}: {result.stderr}")
    with tempfile.TemporaryDirectory() as folder:
        small = _write(Path(folder) / "100k.csv", 100_000, "school")
        large = _write(Path(folder) / "1m.csv", 1_000_000, "big")
        report = {
            "ceiling_copy_s": _copy_ceiling(url, small),
            "import": _import(env, small),
            "rerun": _import(env, small),
            "import_1m": _import(env, large),
        }
    report["ceiling_over_import"] = (
        report["ceiling_copy_s"] / report["import"]["seconds"]
    )
    report["rss_growth_1m_over_100k"] = (
        report["import_1m"]["peak_rss_mib"] / report["import"]["peak_rss_mib"]
    )
    return report


def _write(path: Path, rows: int, domain: str) -> Path:
    """A directory export: usernames, bare bcrypt hashes (never hashed here)."""
    rng = random.Random(rows)  # noqa: S311 - test data, the same each run
    with path.open("w") as out:
        out.write("username,password_hash,is_blocked\n")
        for n in range(rows):
            salted = "".join(rng.choices(ALPHABET, k=53))
            out.write(f"\\{domain}\\student{n:07d},$2b$12${salted},false\n")
    return path


def _import(env: dict, path: Path) -> dict:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "import_users",
                str(path),
                "--format",
                "json",
            ],
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
        raise RuntimeError(f"import_users failed: {stderr[-2000:]}")
    summary = json.loads(stdout.strip().splitlines()[-1])
    print(f"import_users {path.name}: {seconds:.1f} s", file=sys.stderr)
    return {
        "seconds": seconds,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "summary": summary,
        "changes": summary["created"] + summary["updated"] + summary["blocked"],
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
    ]
