"""Log lines: one per event, and no password or password hash in any of them."""

from __future__ import annotations

import logging
import re

REDACTED = "********"
_PATTERNS = [
    # postgresql://user:secret@host -> postgresql://user:********@host
    (
        re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/\s@]*:)[^@\s]+(@)", re.I),
        rf"\1{REDACTED}\2",
    ),
    # password=secret, PASSWORD': 'secret', "password": "secret", pwd=...
    (
        re.compile(
            r"""((?:pass(?:word)?|pwd|secret)['"]?\s*[=:]\s*)"""
            r"""(?:'[^']*'|"[^"]*"|[^\s,;&)}\]]+)""",
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


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrite each record, traceback included, without its secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class OneLineFormatter(logging.Formatter):
    """Keep an event, traceback and multi-line messages included, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\\n")
