"""Reading a roster file for import_users, as the school's tools write it: each
row checked as it streams (accounts.provisioning applies them).

Three shapes are read, told apart by their header (case does not matter):
- this project's own (export_users): `username`, `password_hash`, `is_blocked`,
  `display_name`, `email`;
- PowerShell's `Get-ADUser ... | Export-Csv`: `SamAccountName`, `Enabled`,
  `DisplayName`, `GivenName`, `Surname`, `EmailAddress` or `mail`, `ObjectGUID`,
  with or without Windows PowerShell's `#TYPE ...` first line;
- `csvde`: `DN`, `sAMAccountName`, `userAccountControl`, `displayName`, `mail`.
UTF-8 (with or without a BOM) and UTF-16 with a BOM (`Export-Csv -Encoding
Unicode`, `csvde -u`). A bare account name gains `\\DOMAIN\\` from `--domain`;
other columns (`DistinguishedName`, `UserPrincipalName`, ...) are ignored, and
named once in the summary.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import uuid
from collections.abc import Iterator
from functools import cache
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.models import User
from accounts.names import login_name
from accounts.password_hashes import hash_refusal

# Each field a row may set, and the columns that may carry it, the first
# present one used (lower case; PowerShell's `-Properties *` has both `mail`
# and `EmailAddress`).
FIELDS = {
    "username": ("username", "samaccountname"),
    "password_hash": ("password_hash",),
    "is_blocked": ("is_blocked",),
    "enabled": ("enabled",),
    "user_account_control": ("useraccountcontrol",),
    "display_name": ("display_name", "displayname"),
    "given_name": ("givenname",),
    "surname": ("surname", "sn"),
    "email": ("email", "mail", "emailaddress"),
    "directory_guid": ("objectguid",),
}
# Another system's bcrypt, as Django's BCryptPasswordHasher stores it once prefixed.
BARE_BCRYPT = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")
BOOLEANS = {"true": True, "false": False}
# userAccountControl's "account disabled" bit.
ACCOUNT_DISABLED = 2
# csvde writes a binary attribute as X'hex' (objectGUID's bytes, little-endian).
HEX_VALUE = re.compile(r"X'([0-9A-Fa-f]{32})'")


class Row(NamedTuple):
    """A valid row, in import_rows' column order."""

    line: int
    username: str
    password_hash: str | None
    is_blocked: bool | None
    display_name: str | None
    email: str | None
    directory_guid: uuid.UUID | None


class RosterFile:
    """The valid rows of a roster file; what is wrong goes to `errors` as
    (line, reason), the file's own lines (the header's is 1, or 2 after a
    `#TYPE` line). `ignored` names the columns the import does not read."""

    def __init__(
        self,
        binary: io.BufferedIOBase,
        errors: list[tuple[int, str]],
        *,
        domain: str = "",
        columns: dict[str, str] | None = None,
    ) -> None:
        self.binary = binary
        self.errors = errors
        self.domain = domain
        self.chosen = {
            field: column.lower() for field, column in (columns or {}).items()
        }
        self.ignored: list[str] = []

    def __iter__(self) -> Iterator[Row]:
        lines = _Lines(self.binary)
        reader = csv.reader(lines, strict=True)
        try:
            header = next(reader, None)
            if header and header[0].startswith("#TYPE"):
                header = next(reader, None)  # Windows PowerShell's type line
            if not header:
                self.errors.append(
                    (
                        lines.number or 1,
                        "no header row: the first line names the columns",
                    )
                )
                return
            columns = self._columns(header, lines.number)
            if columns is None:
                return
            line = reader.line_num
            for record in reader:
                row_line, line = line + 1, reader.line_num
                if not record:
                    continue  # a blank line
                if len(record) != len(header):
                    self.errors.append(
                        (
                            row_line,
                            f"{len(record)} fields, the header names {len(header)}",
                        )
                    )
                    continue
                row = self._check(
                    row_line, {field: record[i] for field, i in columns.items()}
                )
                if row is not None:
                    yield row
        except UnicodeDecodeError:
            self.errors.append(
                (lines.number, f"not {lines.encoding}: save the file as UTF-8")
            )
        except csv.Error as exc:
            self.errors.append((lines.number, f"not valid CSV: {exc}"))

    def _columns(self, header: list[str], line: int) -> dict[str, int] | None:
        """Each field's column index, by the header; None (and errors) if unusable."""
        names = [name.strip().lower() for name in header]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            self.errors.append((line, f"a column is named twice: {', '.join(twice)}"))
            return None
        found: dict[str, int] = {}
        for field, candidates in FIELDS.items():
            chosen = self.chosen.get(field)
            if chosen is not None:
                if chosen not in names:
                    self.errors.append(
                        (
                            line,
                            f"--column {field}={chosen}: no such column in the file",
                        )
                    )
                    return None
                candidates = (chosen,)
            present = [c for c in candidates if c in names]
            if present:
                found[field] = names.index(present[0])
        if "username" not in found:
            self.errors.append(
                (
                    line,
                    "no username column: name it username or SamAccountName, "
                    "or say which with --column username=COLUMN",
                )
            )
            return None
        used = set(found.values())
        self.ignored = [header[i].strip() for i in range(len(header)) if i not in used]
        return found

    def _check(self, line: int, row: dict[str, str]) -> Row | None:
        reasons: list[str] = []
        username = self._username(row["username"].strip(), reasons)
        password_hash = _hash(row.get("password_hash", ""), reasons)
        blocked = _blocked(row, reasons)
        display_name = _text(
            row.get("display_name", "").strip()
            or " ".join(
                part
                for part in (row.get("given_name", ""), row.get("surname", ""))
                if part.strip()
            ).strip(),
            "display_name",
            reasons,
        )
        email = _email(row.get("email", "").strip(), reasons)
        guid = _guid(row.get("directory_guid", "").strip(), reasons)
        if reasons:
            self.errors.extend((line, reason) for reason in reasons)
            return None
        return Row(line, username, password_hash, blocked, display_name, email, guid)

    def _username(self, value: str, reasons: list[str]) -> str:
        if value and "\\" not in value:
            if not self.domain:
                reasons.append(
                    f"{value} has no domain: give --domain, or write it \\domain\\name"
                )
                return value
            value = f"\\{self.domain}\\{value}"
        username = login_name(value)
        field_ = _field("username")
        if len(username) > field_.max_length:
            reasons.append(f"username longer than {field_.max_length} characters")
            return username
        try:
            field_.run_validators(username)
        except ValidationError as exc:
            reasons.extend(exc.messages)
        return username


class _Lines:
    """The file's lines, decoded one by one: a decoding error knows its line.

    UTF-8 (a BOM is dropped), or UTF-16 when the file starts with its BOM."""

    def __init__(self, binary: io.BufferedIOBase) -> None:
        if not hasattr(binary, "peek"):
            binary = io.BufferedReader(binary)
        self.binary = binary
        self.number = 0
        start = binary.peek(2)[:2]
        self.encoding = (
            "UTF-16" if start in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "UTF-8"
        )

    def __iter__(self) -> Iterator[str]:
        if self.encoding == "UTF-16":
            text = io.TextIOWrapper(self.binary, encoding="utf-16", newline="")
            for line in text:
                self.number += 1
                yield line
            return
        for raw in self.binary:
            self.number += 1
            if self.number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            yield raw.decode("utf-8")


def _blocked(row: dict[str, str], reasons: list[str]) -> bool | None:
    """From is_blocked (true/false), else Enabled (True/False), else
    userAccountControl's disabled bit; None when no cell says."""
    flag = row.get("is_blocked", "").strip().lower()
    if flag:
        if flag not in BOOLEANS:
            reasons.append("is_blocked must be true or false")
        return BOOLEANS.get(flag)
    enabled = row.get("enabled", "").strip().lower()
    if enabled:
        if enabled not in BOOLEANS:
            reasons.append("Enabled must be True or False")
            return None
        return not BOOLEANS[enabled]
    control = row.get("user_account_control", "").strip()
    if control:
        if not control.isdigit():
            reasons.append("userAccountControl must be a number")
            return None
        return bool(int(control) & ACCOUNT_DISABLED)
    return None


@cache
def _field(name: str):
    """A field of the user model (looked up once: a file has 100,000 rows)."""
    return User._meta.get_field(name)


def _text(value: str, name: str, reasons: list[str]) -> str | None:
    if not value:
        return None
    limit = _field(name).max_length
    if len(value) > limit or "\x00" in value:
        reasons.append(f"{name} longer than {limit} characters")
        return None
    return value or None


def _email(value: str, reasons: list[str]) -> str | None:
    if not value:
        return None
    try:
        validate_email(value)
    except ValidationError:
        reasons.append(f"e-mail {value[:100]!r} is not an e-mail address")
        return None
    return _text(value, "email", reasons)


def _guid(value: str, reasons: list[str]) -> uuid.UUID | None:
    """PowerShell's GUID text, or csvde's X'...' of the bytes."""
    if not value:
        return None
    try:
        if match := HEX_VALUE.fullmatch(value):
            return uuid.UUID(bytes_le=bytes.fromhex(match.group(1)))
        return uuid.UUID(value)
    except ValueError:
        reasons.append(f"ObjectGUID {value[:100]!r} is not a GUID")
        return None


def _hash(value: str, reasons: list[str]) -> str | None:
    if not value:
        return None
    if BARE_BCRYPT.fullmatch(value):
        value = f"bcrypt${value}"
    if len(value) > _field("password").max_length or "\x00" in value:
        reasons.append("password_hash is too long")
        return None
    if refusal := hash_refusal(value):
        reasons.append(f"password_hash: {refusal}")
        return None
    return value
