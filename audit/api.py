"""`GET /api/auth/events`: the caller's own security activity, newest first, a
page at a time (ninja's cursor pagination: `next` is the older page's URL)."""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus

from ninja import Router, Schema
from ninja.pagination import CursorPagination, paginate

from audit.models import AuthEvent
from config.schemas import ErrorOut

router = Router(tags=["auth"])
PAGE_SIZE = 50


class EventOut(Schema):
    """One event. When staff acted on the caller (a block, an ended session),
    `by_staff` says so, and their address and browser are not shown."""

    kind: str
    occurred_at: datetime
    by_staff: bool
    ip: str | None
    user_agent: str

    @staticmethod
    def resolve_by_staff(event: AuthEvent) -> bool:
        return _by_staff(event)

    @staticmethod
    def resolve_ip(event: AuthEvent) -> str | None:
        return None if _by_staff(event) else event.ip

    @staticmethod
    def resolve_user_agent(event: AuthEvent) -> str:
        return "" if _by_staff(event) else event.user_agent


def _by_staff(event: AuthEvent) -> bool:
    return event.actor_id is not None and event.actor_id != event.user_id


@router.get(
    "",
    response={
        HTTPStatus.OK: list[EventOut],
        HTTPStatus.UNAUTHORIZED: ErrorOut,
        HTTPStatus.UNPROCESSABLE_ENTITY: ErrorOut,
        HTTPStatus.SERVICE_UNAVAILABLE: ErrorOut,
    },
)
@paginate(
    CursorPagination,
    ordering=("-occurred_at", "-id"),
    page_size=PAGE_SIZE,
    max_page_size=PAGE_SIZE,
)
def events(request):
    """The caller's security events, newest first, 50 a page: sign-ins (failed
    ones too), sign-outs, sessions ended, password changes, blocks. Follow
    `next` for older ones: however many new events arrive, none is lost."""
    return AuthEvent.objects.filter(user=request.user).only(
        "kind", "occurred_at", "ip", "user_agent", "actor_id", "user_id"
    )
