"""manage.py run_jobs: the scheduled jobs (config/jobs.py), in the foreground."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime

from apscheduler.schedulers.blocking import BlockingScheduler
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from config import jobs

log = logging.getLogger("jobs")


class Command(BaseCommand):
    help = (
        "Run the scheduled jobs (clearsessions, purge_auth_events, backup, "
        "sync_directory) on their *_SCHEDULE, a log line each run."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--list", action="store_true", help="print each job's schedule and next run"
        )
        group.add_argument(
            "--check",
            action="store_true",
            help="exit 1 when a job's last run failed (the healthcheck)",
        )
        group.add_argument(
            "--run",
            metavar="JOB",
            choices=[job.name for job in jobs.JOBS],
            help="run one job now, and exit with its status",
        )

    def handle(self, *args, **options):
        if options["check"]:
            self.check_last_runs()
        elif options["run"]:
            job = next(job for job in jobs.JOBS if job.name == options["run"])
            if jobs.run(job):
                raise CommandError(f"{job.name} failed")
        else:
            try:
                triggers = jobs.schedules()
            except ImproperlyConfigured as exc:
                raise CommandError(str(exc)) from None
            if options["list"]:
                self.list(triggers)
            else:
                self.serve(triggers)

    def check_last_runs(self) -> None:
        failed = jobs.failed()
        if failed:
            raise CommandError(
                "last run failed: "
                + ", ".join(
                    f"{name} (exit {result['exit']}, {result['at']})"
                    for name, result in failed.items()
                )
            )

    def list(self, triggers) -> None:
        now = datetime.now(UTC)
        for job, (schedule, trigger) in triggers.items():
            upcoming = trigger.get_next_fire_time(None, now)
            self.stdout.write(
                f"{job.name}: {job.variable}={schedule}, "
                f"next {upcoming:%Y-%m-%d %H:%M} UTC"
            )

    def serve(self, triggers) -> None:
        scheduler = BlockingScheduler(timezone=UTC)
        for job, (_, trigger) in triggers.items():
            # One run at a time a job; a run missed while stopped is made up once.
            scheduler.add_job(
                jobs.run,
                trigger,
                args=[job],
                id=job.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=600,
            )
        listed = ", ".join(
            f"{job.name} ({schedule})" for job, (schedule, _) in triggers.items()
        )
        log.info("run_jobs: %s", listed or "no job scheduled")
        with contextlib.suppress(KeyboardInterrupt):
            scheduler.start()
