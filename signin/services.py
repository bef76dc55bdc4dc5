"""What the sign-in API does, as functions its endpoints call (signin/api.py):
each takes the request, does one job, and says how it went."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, update_session_auth_hash
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.http import HttpRequest

from accounts.names import login_name
from accounts.sessions import UserBlocked
from audit.events import record
from audit.models import Kind
from core.audit_context import tell_audit
from signin.reauth import record_authentication


def sign_in(request: HttpRequest, username: str, password: str):
    """Sign the user in and return them, or None: a wrong password, an unknown
    user, a blocked one and one blocked meanwhile are all the same None."""
    user = authenticate(request, username=login_name(username), password=password)
    if user is None:
        return None
    login(request, user)
    try:
        request.session.save()
    except UserBlocked:
        # Blocked between the password check and the session's row.
        request.session.flush()
        return None
    return user


def password_is(request: HttpRequest, password: str) -> bool:
    """Check the caller's password as sign-in does: axes counts a failure."""
    user = authenticate(
        request, username=request.user.get_username(), password=password
    )
    return user is not None and user.pk == request.user.pk


def reauthenticate(request: HttpRequest, password: str) -> bool:
    """Confirm the caller's password; on success rotate the session key and
    record the authentication (signin.reauth)."""
    if not password_is(request, password):
        return False
    request.session.cycle_key()
    record_authentication(request)
    record(Kind.REAUTHENTICATED, request, user=request.user)
    return True


def change_password(request: HttpRequest, new_password: str) -> None:
    """Set the caller's new password (checked with validate_password, which
    raises ValidationError): every other session ends, this one goes on."""
    user = request.user
    validate_password(new_password, user)
    with transaction.atomic():
        user.set_password(new_password)
        # The database ends all of the user's sessions (users_end_sessions);
        # this one comes back under a new key, and is no session.ended.
        tell_audit(session_kept=request.session.row.public_id)
        user.save(update_fields=["password"])
        update_session_auth_hash(request, user)
        record_authentication(request)
