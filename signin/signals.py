"""What every sign-in does once the password is right, whichever door it came
through (the API, the admin, the directory): one receiver of Django's
`user_logged_in`. (The audit app records the sign-in with its own.)"""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from signin import lockout
from signin.reauth import record_authentication


@receiver(user_logged_in, dispatch_uid="signin.signed_in")
def _signed_in(sender, request=None, user=None, **kwargs) -> None:
    if request is None:
        return
    lockout.signed_in(request, user)
    if hasattr(request, "session"):
        record_authentication(request)
