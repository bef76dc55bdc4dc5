import atexit

from django.apps import AppConfig
from django.conf import settings
from django.db import connections
from django.db.backends.signals import connection_created


class ProjectConfig(AppConfig):
    """The project's own start-up wiring (no models)."""

    name = "config"
    label = "project"

    def ready(self) -> None:
        atexit.register(_close_pools)
        if settings.SQL_ECHO:
            connection_created.connect(_echo_sql)


def _close_pools() -> None:
    """Close the psycopg pools (Django's close_pool) while their threads still run.

    Left to the garbage collector at interpreter shutdown, each pool waits 5 s per
    thread that no longer runs: `manage.py` commands took 20 s more to exit.
    """
    for alias in connections:
        if connections[alias].vendor == "postgresql":
            connections[alias].close_pool()


def _echo_sql(sender, connection, **kwargs) -> None:
    # Django logs each statement and its duration only with debug on, unless asked
    # to; the log goes through the redacting filter (config/log.py).
    connection.force_debug_cursor = True
