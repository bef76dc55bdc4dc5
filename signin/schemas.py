"""Request and response bodies of the sign-in API (signin/api.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from ninja import Field, Schema
from pydantic import AfterValidator, StrictStr


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


# Said in the OpenAPI document too; the validator gives the clearer message.
NO_NUL = {"pattern": "^[^\\u0000]*$"}
# The name is looked up as typed (any case, never normalised), as the model
# stores it; anything longer than the column cannot be a user.
Username = Annotated[
    StrictStr,
    Field(max_length=255, json_schema_extra=NO_NUL),
    AfterValidator(_no_nul),
]
# Long enough for any pass phrase, short of a denial of service; never empty
# (a hash of the empty password, imported, must not sign anyone in).
Password = Annotated[
    StrictStr,
    Field(min_length=1, max_length=4096, json_schema_extra=NO_NUL),
    AfterValidator(_no_nul),
]


class Credentials(Schema):
    username: Username
    password: Password


class Reauthentication(Schema):
    password: Password


class PasswordChange(Schema):
    current_password: Password
    new_password: Password


class UserOut(Schema):
    id: UUID
    username: str


class MeOut(UserOut):
    """The caller, and when their session ends: at `expires_at` whatever it does,
    or at `idle_expires_at` if unused until then (UTC), so a UI can warn in time.
    `display_name` is the directory's (or the import's) name for them, "" if none."""

    display_name: str
    expires_at: datetime
    idle_expires_at: datetime


class SessionOut(Schema):
    """A session of the caller's; `id` is opaque, never the session key."""

    id: UUID
    current: bool
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    idle_expires_at: datetime
    ip: str | None
    user_agent: str


class CsrfOut(Schema):
    csrf_token: str


class EndedOut(Schema):
    ended: int
