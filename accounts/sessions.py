"""Django's database sessions in the `sessions` table, with their user and client.

SESSION_ENGINE names this module; the middleware below gives each session the
client's address and user agent. See accounts.models.Session.
"""

from __future__ import annotations

import psycopg
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import CreateError
from django.contrib.sessions.backends.db import SessionStore as DBStore
from django.contrib.sessions.middleware import SessionMiddleware as DjangoMiddleware
from django.db import IntegrityError, transaction
from django.db.models.functions import Now
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Session
from core.audit_context import tell_audit
from core.clients import client_ip, user_agent

# The database's refusal of a session for a blocked user (migration 0007).
NOT_BLOCKED = "sessions_user_not_blocked"


class UserBlocked(Exception):
    """The session's user was blocked while signing in: PostgreSQL refused the row."""


class SessionStore(DBStore):
    def __init__(
        self, session_key: str | None = None, *, ip: str | None = None, user_agent=""
    ) -> None:
        super().__init__(session_key)
        # True once a request found its session over a limit (and ended it).
        self.expired = False
        self.ip = ip
        self.user_agent = user_agent
        self._row: Session | None = None

    @classmethod
    def get_model_class(cls):
        return Session

    def _get_session_from_db(self):
        """Load the row, in the one read Django makes; a row no longer live
        (Session.is_live: idle, or past DJANGO_SESSION_COOKIE_AGE from sign-in)
        is ended."""
        row = super()._get_session_from_db()
        if row is not None and not row.is_live():
            with transaction.atomic(savepoint=False):
                tell_audit(session_end="expired")  # session.expired, not .ended
                row.delete()
                tell_audit(session_end=None)  # as in cycle_key
            self.expired = True
            row = None
        self._row = row
        return row

    def cycle_key(self) -> None:
        """A new key for the same session: the old row goes, but not as ended."""
        if self.session_key is None:  # nothing to delete: no statement more
            return super().cycle_key()
        with transaction.atomic(savepoint=False):
            tell_audit(session_end="rotated")
            super().cycle_key()
            # The rest of an enclosing transaction (a request's) is no rotation.
            tell_audit(session_end=None)

    @classmethod
    def clear_expired(cls) -> None:
        """clearsessions: remove every row no longer live.

        Django's rows past expire_date go unrecorded, as before; those ended by
        the idle or absolute limit are recorded as session.expired.
        """
        super().clear_expired()
        with transaction.atomic():
            tell_audit(session_end="expired")
            Session.objects.exclude(pk__in=Session.objects.live().values("pk")).delete()
            tell_audit(session_end=None)

    @property
    def row(self) -> Session | None:
        """The session's row as this request loaded it (None before, or if none)."""
        return self._row

    def create_model_instance(self, data: dict) -> Session:
        row = self._row
        if row is not None and row.session_key == self.session_key:
            # An update: keep created_at and public_id as the database has them.
            row.session_data = self.encode(data)
            row.expire_date = self.get_expiry_date()
        else:
            row = super().create_model_instance(data)
            if _same_user(self._row, data):
                # A new key for the same signed-in user (re-authentication, a
                # password change): the lifetime still counts from sign-in.
                row.created_at = self._row.created_at
        row.user_id = data.get(SESSION_KEY)
        # The database's clock, as for created_at; Django reads it back.
        row.last_seen_at = Now()
        if self.ip is not None:
            row.ip, row.user_agent = self.ip, self.user_agent
        return row

    def save(self, must_create: bool = False) -> None:
        try:
            super().save(must_create)
        except (CreateError, IntegrityError) as exc:
            # Django's store would try again under new keys for ever.
            if _refused_for_blocked_user(exc):
                raise UserBlocked from None
            raise

    def touch(self) -> None:
        """Record that the session was used, if it was not for its touch interval
        (Session.touch_interval): not a write per request."""
        row = self._row
        if row is None or row.session_key != self.session_key:
            return
        if timezone.now() - row.last_seen_at < Session.touch_interval():
            return
        Session.objects.filter(pk=row.pk).update(
            last_seen_at=Now(), ip=self.ip, user_agent=self.user_agent
        )
        row.last_seen_at = timezone.now()  # near enough: no touch for a minute


class SessionMiddleware(DjangoMiddleware):
    """Django's session middleware, telling each session its client."""

    def process_request(self, request: HttpRequest) -> None:
        request.session = SessionStore(
            request.COOKIES.get(settings.SESSION_COOKIE_NAME),
            ip=client_ip(request),
            user_agent=user_agent(request),
        )

    def process_response(self, request: HttpRequest, response):
        session = getattr(request, "session", None)
        if isinstance(session, SessionStore) and not session.modified:
            session.touch()
        try:
            return super().process_response(request, response)
        except UserBlocked:
            # Blocked while signing in: the request goes on signed out.
            session.flush()
            return super().process_response(request, response)


def _same_user(row: Session | None, data: dict) -> bool:
    user_id = data.get(SESSION_KEY)
    return row is not None and user_id is not None and str(row.user_id) == user_id


def _refused_for_blocked_user(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, psycopg.errors.CheckViolation):
            return exc.diag.constraint_name == NOT_BLOCKED
        exc = exc.__cause__ or exc.__context__
    return False
