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


# The second factor (signin/mfa_api.py).
Code = Annotated[
    StrictStr, Field(min_length=1, max_length=64, json_schema_extra=NO_NUL)
]
DeviceName = Annotated[
    StrictStr, Field(max_length=64, json_schema_extra=NO_NUL), AfterValidator(_no_nul)
]


class SecondFactorOut(Schema):
    """A sign-in that waits for its second step: `methods` are those the user may
    complete it with ("webauthn", "totp", "recovery_code"); none when the user
    must first enrol one (`error` says so)."""

    error: str
    methods: list[str]


class SecondStep(Schema):
    """A code (authenticator app, or recovery code), or a WebAuthn assertion
    (the JSON of navigator.credentials.get()'s answer): one of the two."""

    code: Code | None = None
    webauthn: dict | None = None


class DeviceOut(Schema):
    id: UUID
    method: str
    name: str
    created_at: datetime | None
    last_used_at: datetime | None


class MfaStatusOut(Schema):
    required: bool
    may_enrol: bool
    verified: bool
    methods: list[str]
    devices: list[DeviceOut]
    recovery_codes_left: int


class TotpStart(Schema):
    name: DeviceName = ""


class TotpStartOut(Schema):
    """The new authenticator app's secret, to scan (`qr_svg`, of `otpauth_url`)
    or type (`secret`, base32); confirmed by its first code."""

    id: UUID
    secret: str
    otpauth_url: str
    qr_svg: str


class TotpConfirm(Schema):
    """The app's current code; `id` is the one `/totp` answered (default: the
    caller's newest unconfirmed app)."""

    id: UUID | None = None
    code: Code


class PasskeyRegistration(Schema):
    name: DeviceName = ""
    credential: dict


class EnrolledOut(Schema):
    """The new factor; `recovery_codes` with the first one (shown once), else []."""

    id: UUID
    recovery_codes: list[str]


class RecoveryCodesOut(Schema):
    recovery_codes: list[str]
