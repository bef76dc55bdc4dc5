"""Logging: one line per event on stderr, never a secret (config/log.py)."""

from __future__ import annotations

from config.env import boolean, choice
from config.log import LOG_FORMATS, LOG_LEVELS, logging_config

LOG_LEVEL = choice("DJANGO_LOG_LEVEL", "INFO", LOG_LEVELS)
# Each SQL statement and its duration on the log, for development; never in
# production. Parameters go through the same redaction as every log line.
SQL_ECHO = boolean("DJANGO_SQL_ECHO", default=False)
# One JSON object a line (DJANGO_LOG_FORMAT=json), for log shippers, or the line.
LOG_FORMAT = choice("DJANGO_LOG_FORMAT", "LINE", LOG_FORMATS)
LOGGING = logging_config(LOG_LEVEL, sql_echo=SQL_ECHO, log_format=LOG_FORMAT)
