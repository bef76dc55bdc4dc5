"""Until its second step, a half-done sign-in is nobody: SecondFactorMiddleware
(after django-otp's OTPMiddleware) shows its user as anonymous to everything
but the second step's own calls, which find them with mfa.flows.pending_user.

So the API answers 401 and the admin its sign-in page, whatever the call (which
sends such a user on to the second step, or to enrolment: signin.admin_site). A
user who must have a factor (DJANGO_MFA_REQUIRED_FOR) is held here whenever the
session is not verified by one, whenever it began. Lazy, as Django's own user:
a request that never looks at the user costs nothing, and a student's signed-in
request no statement.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.utils.functional import SimpleLazyObject

from mfa import flows


def _signed_in_user(request, user):
    if not user.is_authenticated:
        return user
    pending = flows.PENDING in request.session
    if not pending and not (flows.required(user) and not user.is_verified()):
        return user
    if flows.expired(request):
        request.session.flush()
        return AnonymousUser()
    request.mfa_user = user
    return AnonymousUser()


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        request.user = SimpleLazyObject(lambda: _signed_in_user(request, user))
        return self.get_response(request)
