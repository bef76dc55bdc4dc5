"""Every sign-in, whichever door (API, admin, directory), gets its second step
decided here: one receiver of Django's `user_logged_in` (mfa.flows.signed_in)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from mfa import flows


@receiver(user_logged_in, dispatch_uid="mfa.signed_in")
def _signed_in(sender, request=None, user=None, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        flows.signed_in(request, user)
