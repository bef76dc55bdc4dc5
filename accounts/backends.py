from axes.backends import AxesStandaloneBackend
from axes.models import AccessAttempt
from django.contrib.auth.backends import ModelBackend

from accounts.clients import client_ip
from accounts.hashers import may_wait, strong
from accounts.throttling import REFUSED_LATELY, guessers


class UserBackend(ModelBackend):
    """Django's ModelBackend for `accounts.User`.

    The lookup is already case-insensitive (`UserManager.get_by_natural_key`) and a
    blocked user is inactive (`User.is_active`). This subclass exists because Django
    requires a unique `username` field for its default backend (auth.E003), while
    uniqueness here is case-insensitive and enforced by the idx_users_username_upper
    index.
    """


class ThrottleBackend(AxesStandaloneBackend):
    """django-axes' lockout check, first of the backends: no hash when locked out.

    It also decides whether this sign-in may wait for a hashing slot: not when
    its address failed or sent sign-ins in parallel lately, here or at another
    worker (accounts.hashers, accounts.throttling). A
    call without a request (a script, Django's test client) has no client to
    throttle and goes on unchecked, where axes would raise.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        address = client_ip(request)
        guessing = (
            address in guessers
            or AccessAttempt.objects.filter(
                ip_address=address, failures_since_start__gt=0
            ).exists()
        )
        if guessing:
            guessers.add(address)  # failed at another worker: now this one knows
        may_wait.set(not guessing)
        strong.set(not request.META.get(REFUSED_LATELY, False))
        return super().authenticate(request, username, password, **kwargs)
