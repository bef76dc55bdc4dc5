"""The compose route's scheduled jobs (config/jobs.py, manage.py run_jobs):
schedules from the environment, a line each run with its exit status, and a
healthcheck that fails while a job's last run failed."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import jobs
from testsupport.servers import SECRET_KEY, manage

pytestmark = pytest.mark.django_db(transaction=True)


def run_jobs(*args, status_file, **env):
    return manage(
        "run_jobs",
        *args,
        env={
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "JOBS_STATUS_FILE": str(status_file),
            **env,
        },
    )


class TestSchedules:
    def test_list__each_job_with_its_next_run(self, database_url, tmp_path):
        listed = run_jobs(
            "--list",
            status_file=tmp_path / "status",
            DATABASE_URL=database_url,
            BACKUP_SCHEDULE="0 2 * * *",
            CLEARSESSIONS_SCHEDULE="off",
        )
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert [line.split(":")[0] for line in lines] == ["purge_auth_events", "backup"]
        assert "BACKUP_SCHEDULE=0 2 * * *, next " in lines[1]
        assert lines[1].endswith(" 02:00 UTC")

    def test_sync_directory__scheduled_where_there_are_directories(self, monkeypatch):
        monkeypatch.delenv("DIRECTORY_DOMAINS", raising=False)
        assert "sync_directory" not in {job.name for job in jobs.schedules()}
        monkeypatch.setenv("DIRECTORY_DOMAINS", "UNI")
        (schedule, _) = next(
            value
            for job, value in jobs.schedules().items()
            if job.name == "sync_directory"
        )
        assert schedule == "*/30 * * * *"

    @pytest.mark.parametrize("schedule", ["61 * * * *", "nightly", "0 2 * *"])
    def test_a_wrong_schedule__names_its_variable(self, monkeypatch, schedule):
        monkeypatch.setenv("PURGE_AUTH_EVENTS_SCHEDULE", schedule)
        with pytest.raises(ImproperlyConfigured, match=r"^PURGE_AUTH_EVENTS_SCHEDULE "):
            jobs.schedules()

    def test_a_wrong_schedule__stops_run_jobs_in_one_line(self, tmp_path):
        refused = run_jobs(
            status_file=tmp_path / "status",
            DATABASE_URL="postgresql://x@h/x",
            PURGE_AUTH_EVENTS_SCHEDULE="nightly",
        )
        assert refused.returncode == 1
        assert refused.stderr.strip() == (
            "CommandError: PURGE_AUTH_EVENTS_SCHEDULE must be a crontab schedule "
            "of five fields (minute hour day month weekday, such as '0 2 * * *') "
            "or off"
        )


class TestRuns:
    def test_a_run__logs_its_outcome_and_keeps_the_service_healthy(
        self, database_url, tmp_path
    ):
        status = tmp_path / "status"
        backups = tmp_path / "backups"
        ran = run_jobs(
            "--run",
            "backup",
            status_file=status,
            DATABASE_URL=database_url,
            BACKUP_DIR=str(backups),
        )
        assert ran.returncode == 0, ran.stderr
        assert "job=backup outcome=succeeded exit=0" in ran.stderr
        assert len(list(backups.glob("counseling-*.dump"))) == 1
        assert json.loads(status.read_text())["backup"]["exit"] == 0
        healthy = run_jobs("--check", status_file=status, DATABASE_URL=database_url)
        assert healthy.returncode == 0, healthy.stderr

    def test_a_failed_run__is_an_error_line_and_makes_the_service_unhealthy(
        self, database_url, tmp_path
    ):
        status = tmp_path / "status"
        env = {"DATABASE_URL": database_url, "BACKUP_DIR": str(tmp_path / "backups")}
        ran = run_jobs("--run", "backup", status_file=status, BACKUP_KEEP="all", **env)
        assert ran.returncode == 1
        line = next(line for line in ran.stderr.splitlines() if "job=" in line)
        assert re.search(
            r" ERROR jobs: job=backup outcome=FAILED exit=2 seconds=\d+\.\d "
            r"BACKUP_KEEP must be a whole number of at least 1$",
            line,
        ), line
        unhealthy = run_jobs("--check", status_file=status, **env)
        assert unhealthy.returncode == 1
        assert "last run failed: backup (exit 2, " in unhealthy.stderr
        # Its next good run makes the service healthy again.
        assert run_jobs("--run", "backup", status_file=status, **env).returncode == 0
        assert run_jobs("--check", status_file=status, **env).returncode == 0


def test_runs_finishing_together__each_keep_their_result(tmp_path, monkeypatch):
    """The backup and a sync due at the same minute finish in two threads."""
    monkeypatch.setenv("JOBS_STATUS_FILE", str(tmp_path / "status"))
    names = [f"job{n}" for n in range(40)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: jobs._record(name, 0), names))
    assert sorted(json.loads((tmp_path / "status").read_text())) == sorted(names)
