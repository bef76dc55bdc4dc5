"""`GET /api/auth/events`: the caller's own recent security activity."""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus

from ninja import Router, Schema

from audit.models import AuthEvent
from config.schemas import ErrorOut

router = Router(tags=["auth"])
LAST = 50


class EventOut(Schema):
    kind: str
    occurred_at: datetime
    ip: str | None
    user_agent: str


@router.get(
    "",
    response={
        HTTPStatus.OK: list[EventOut],
        HTTPStatus.UNAUTHORIZED: ErrorOut,
        HTTPStatus.SERVICE_UNAVAILABLE: ErrorOut,
    },
)
def events(request):
    """The caller's last 50 security events, newest first: sign-ins (failed ones
    too), sign-outs, sessions ended, password changes, blocks."""
    return AuthEvent.objects.filter(user=request.user).only(
        "kind", "occurred_at", "ip", "user_agent"
    )[:LAST]
