"""Reading the directory's CSV export for import_users: each row checked as it
streams (accounts.provisioning applies them)."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator

from django.core.exceptions import ValidationError

from accounts.models import User
from accounts.password_hashes import hash_refusal

COLUMNS = ("username", "password_hash", "is_blocked")
# Another system's bcrypt, as Django's BCryptPasswordHasher stores it once prefixed.
BARE_BCRYPT = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")
BOOLEANS = {"true": True, "false": False}


def read_rows(
    binary: io.BufferedIOBase, errors: list[tuple[int, str]]
) -> Iterator[tuple[int, str, str | None, bool | None]]:
    """Yield the file's valid rows as (line, username, hash, is_blocked).

    Lines are the file's own, the header being line 1; what is wrong with a
    row goes to `errors`. A BOM, CRLF ends, quoted fields and blank lines are read
    as csv reads them; a file that is not UTF-8 or not CSV stops at that line.
    """
    lines = _Lines(binary)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if not header:
            errors.append((1, "no header row: the first line names the columns"))
            return
        columns = _columns(header, errors)
        if columns is None:
            return
        line = reader.line_num
        for record in reader:
            row_line, line = line + 1, reader.line_num
            if not record:
                continue  # a blank line
            if len(record) != len(header):
                errors.append(
                    (row_line, f"{len(record)} fields, the header names {len(header)}")
                )
                continue
            row = dict(zip(columns, record, strict=True))
            checked = _check(row_line, row, errors)
            if checked is not None:
                yield checked
    except UnicodeDecodeError:
        errors.append((lines.number, "not UTF-8: save the file as UTF-8"))
    except csv.Error as exc:
        errors.append((lines.number, f"not valid CSV: {exc}"))


class _Lines:
    """The file's lines, decoded one by one: a decoding error knows its line."""

    def __init__(self, binary: io.BufferedIOBase) -> None:
        self.binary = binary
        self.number = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self.binary:
            self.number += 1
            if self.number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            yield raw.decode("utf-8")


def _columns(header: list[str], errors) -> list[str] | None:
    names = [name.strip() for name in header]
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        errors.append(
            (1, f"unknown column {unknown[0]!r}: the columns are {', '.join(COLUMNS)}")
        )
    elif len(set(names)) != len(names):
        errors.append((1, "a column is named twice"))
    elif "username" not in names:
        errors.append((1, "no username column"))
    else:
        return names
    return None


def _check(line: int, row: dict[str, str], errors) -> tuple | None:
    username = row["username"]
    reasons = []
    field_ = User._meta.get_field("username")
    if len(username) > field_.max_length:
        reasons.append(f"username longer than {field_.max_length} characters")
    else:
        try:
            field_.run_validators(username)
        except ValidationError as exc:
            reasons.extend(exc.messages)
    password_hash = _hash(row.get("password_hash", ""), reasons)
    flag = row.get("is_blocked", "").strip().lower()
    if flag and flag not in BOOLEANS:
        reasons.append("is_blocked must be true or false")
    if reasons:
        errors.extend((line, reason) for reason in reasons)
        return None
    return line, username, password_hash, BOOLEANS.get(flag)


def _hash(value: str, reasons: list[str]) -> str | None:
    if not value:
        return None
    if BARE_BCRYPT.fullmatch(value):
        value = f"bcrypt${value}"
    if len(value) > User._meta.get_field("password").max_length or "\x00" in value:
        reasons.append("password_hash is too long")
        return None
    if refusal := hash_refusal(value):
        reasons.append(f"password_hash: {refusal}")
        return None
    return value
