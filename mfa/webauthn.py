"""Passkeys and security keys (WebAuthn), with py_webauthn: the options a
browser's navigator.credentials.create() / .get() take, as JSON, and the check
of what it answers. The relying party is the site the request came to (its host,
as ALLOWED_HOSTS let it in; its origin, https behind the proxy). Each challenge
is kept in the session and used once.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from mfa.models import Passkey

CHALLENGE = "_mfa_webauthn_challenge"


def _site(request: HttpRequest) -> tuple[str, str]:
    host = request.get_host()
    return host.rsplit(":", 1)[0].strip("[]"), f"{request.scheme}://{host}"


def _descriptors(user) -> list[PublicKeyCredentialDescriptor]:
    known = {t.value for t in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=bytes(passkey.credential_id),
            transports=[
                AuthenticatorTransport(t) for t in passkey.transports if t in known
            ],
        )
        for passkey in Passkey.objects.filter(user=user)
    ]


def _challenge(request: HttpRequest, options) -> dict:
    request.session[CHALLENGE] = bytes_to_base64url(options.challenge)
    return json.loads(options_to_json(options))


def registration_options(request: HttpRequest, user) -> dict:
    rp_id, _ = _site(request)
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=settings.SITE_NAME,
        user_name=user.get_username(),
        user_id=user.pk.bytes,
        user_display_name=user.display_name or user.get_username(),
        exclude_credentials=_descriptors(user),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    return _challenge(request, options)


def register(request: HttpRequest, user, name: str, credential: dict) -> Passkey | None:
    """Keep the new credential the browser made for the last registration
    options, or None when it does not answer them (or is known already)."""
    challenge = request.session.pop(CHALLENGE, None)
    rp_id, origin = _site(request)
    if challenge is None:
        return None
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError):
        return None
    transports = (credential.get("response") or {}).get("transports") or []
    try:
        with transaction.atomic():
            return Passkey.objects.create(
                user=user,
                name=name or "Passkey",
                credential_id=verified.credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                transports=[t for t in transports if isinstance(t, str)][:8],
            )
    except IntegrityError:
        return None


def authentication_options(request: HttpRequest, user) -> dict:
    rp_id, _ = _site(request)
    options = generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=_descriptors(user),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return _challenge(request, options)


def verify(request: HttpRequest, user, credential: dict) -> Passkey | None:
    """The user's passkey that signed the last challenge, or None."""
    challenge = request.session.pop(CHALLENGE, None)
    rp_id, origin = _site(request)
    try:
        raw_id = base64url_to_bytes(credential.get("rawId") or credential["id"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if challenge is None:
        return None
    with transaction.atomic():
        passkey = (
            Passkey.objects.select_for_update()
            .filter(user=user, credential_id=raw_id)
            .first()
        )
        if passkey is None:
            return None
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=base64url_to_bytes(challenge),
                expected_rp_id=rp_id,
                expected_origin=origin,
                credential_public_key=bytes(passkey.public_key),
                credential_current_sign_count=passkey.sign_count,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError):
            return None
        passkey.sign_count = verified.new_sign_count
        passkey.set_last_used_timestamp(commit=False)
        passkey.save(update_fields=["sign_count", "last_used_at"])
    return passkey
