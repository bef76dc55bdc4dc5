"""Log lines: one per event, no secret in any of them, no forged line breaks.

Used by Django's logging (config/settings/logs.py) and gunicorn's (gunicorn.conf.py);
Django-free, so that gunicorn's master can use it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

REDACTED = "********"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Set in the WSGI environ by the probes' handler (health.probes) for the access
# log (gunicorn.conf.py), which writes no line for a probe answered 200.
PROBE_ANSWERED = "health.probe_answered"
# A quoted value with its escapes ('it\'s'), or an unquoted one up to a separator.
_VALUE = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s,;&)}\]]+)"""
# `=` or `:`, or either percent-encoded (a logged query string or form body).
_ASSIGN = r"""['"]?\s*(?:[=:]|%3[dDaA])\s*"""
_PATTERNS = [
    # postgresql://user:p@ss@host -> postgresql://user:********@host (up to the
    # last @ of the word: a raw @ in the password is not the end of it).
    (
        re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/\s@]*:)\S*(@)", re.I),
        rf"\1{REDACTED}\2",
    ),
    # Headers that carry credentials: Authorization: Bearer x, Cookie: a=1; b=2,
    # 'HTTP_COOKIE': '...'. The value runs to its closing quote or the line's end.
    (
        re.compile(
            rf"""(\b[\w.-]*(?:authorization|cookie){_ASSIGN})"""
            r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\r\n]*)""",
            re.I,
        ),
        rf"\1{REDACTED}",
    ),
    # Secrets by key name: password, password1, new_password2, passwd, pwd,
    # SECRET_KEY, DJANGO_SECRET_KEY, token, api_key, sessionid, csrftoken, ...
    (
        re.compile(
            r"(\b[\w.-]*(?:pass(?:wd|word)?|pwd|secret|token|api[_-]?key|sessionid)"
            rf"[\w.-]*{_ASSIGN}){_VALUE}",
            re.I,
        ),
        rf"\1{REDACTED}",
    ),
    # Django's hashes (algorithm$...), bare bcrypt and PostgreSQL SCRAM verifiers.
    (
        re.compile(
            r"\b(?:bcrypt_sha256|bcrypt|pbkdf2_sha256|pbkdf2_sha1|argon2|scrypt|md5"
            r"|sha1)\$[^\s'\",]+"
        ),
        REDACTED,
    ),
    (re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}"), REDACTED),
    (re.compile(r"SCRAM-SHA-256\$[^\s'\",]+"), REDACTED),
]
# Control characters and Unicode line breaks: written escaped, so that a logged
# path or name cannot forge a line or a terminal sequence.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


# A logfmt value that needs no quotes: no space, quote, `=` or backslash.
_BARE_VALUE = re.compile(r'[^\s"=\\]+')


def logfmt(**fields) -> str:
    """Write `fields` as logfmt, `key=value ...`: a value that is empty or holds a
    space, a quote, `=` or a backslash goes in double quotes, with backslash
    escapes, so that no value can add a field of its own (None is `-`)."""
    return " ".join(f"{key}={_logfmt_value(value)}" for key, value in fields.items())


def _logfmt_value(value) -> str:
    text = "-" if value is None else str(value)
    if _BARE_VALUE.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_traceback(text: str) -> list[str]:
    """Redact a traceback's lines but its source lines: code is not a secret.

    A source line follows its `File "...", line N` line; redacting it by key
    name turned Django's `request_csrf_token = ...` into `********`.
    """
    lines = text.split("\n")
    return [
        line if n and lines[n - 1].lstrip().startswith('File "') else redact(line)
        for n, line in enumerate(lines)
    ]


def escape_controls(text: str) -> str:
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class RedactSecretsFilter(logging.Filter):
    """Rewrite each record, traceback included, without secrets or control characters.

    Never raises: a malformed log call (wrong arguments) is logged as it was made,
    rather than failing the request that made it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # any mistake of the caller's
            message = f"{record.msg!r} (unformattable arguments: {record.args!r})"
        record.msg = escape_controls(redact(message))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # Line breaks of a traceback stay; OneLineFormatter folds them.
            record.exc_text = "\n".join(
                escape_controls(line) for line in _redact_traceback(record.exc_text)
            )
        return True


class OneLineFormatter(logging.Formatter):
    """Keep an event, its traceback included, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for log shippers (DJANGO_LOG_FORMAT=json): the
    time, level, logger and message (redacted by the filter as every line), the
    traceback, and an audit event's fields as fields of their own."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in getattr(record, "fields", {}).items():
            entry.setdefault(name, None if value is None else redact(str(value)))
        if record.exc_text:
            entry["traceback"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)

    def formatTime(self, record, datefmt=None) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# DJANGO_LOG_FORMAT: the readable line (the default), or JSON for log shippers.
LOG_FORMATS = ("LINE", "JSON")


def logging_config(level: str, *, sql_echo: bool, log_format: str = "LINE") -> dict:
    """Return Django's LOGGING: one line per event on stderr, through the filter;
    a readable line, or JSON (`log_format`).

    stderr, as Django's own console logging and gunicorn's error log: a
    command's output (import_users --format json, export_users) stays alone on
    stdout.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "line": {
                "()": "config.log.OneLineFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
            },
            "json": {"()": "config.log.JsonFormatter"},
        },
        "filters": {"redact_secrets": {"()": "config.log.RedactSecretsFilter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": log_format.lower(),
                "filters": ["redact_secrets"],
            },
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # The pool logs every checkout at INFO.
            "psycopg": {"level": "WARNING"},
            # Its banner at every start; lockouts still log (axes.handlers).
            "axes.apps": {"level": "WARNING"},
            # A line per sign-in, and per failed one while a directory is away:
            # signin.directory logs an outage once, and the audit trail the rest.
            "django_auth_ldap": {"level": "ERROR"},
            # Django's own handlers (console when debug is on, runserver's) would
            # bypass the filter: these loggers write through the redacting one.
            "django": {"handlers": ["stderr"], "level": level, "propagate": False},
            "django.server": {
                "handlers": ["stderr"],
                "level": level,
                "propagate": False,
            },
            "django.db.backends": {"level": "DEBUG" if sql_echo else level},
        },
    }
