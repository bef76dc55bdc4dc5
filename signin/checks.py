"""Start-up checks of the sign-in settings (Django's system checks: `migrate`,
`check` and `runserver` print them)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register


@register()
def lockout_below_directory_lockout(app_configs=None, **kwargs):
    """Guesses here must never lock a student out of their school account: this
    platform's limit per name stays below the directory's own lockout."""
    return [
        Warning(
            f"DJANGO_SIGNIN_FAILURE_LIMIT ({settings.SIGNIN_FAILURE_LIMIT}) is not "
            f"below DIRECTORY_{directory.settings_prefix[len('AUTH_LDAP_') :]}"
            f"LOCKOUT_THRESHOLD ({directory.lockout_threshold}): guessing here "
            "could lock students out of their school account",
            hint="Set DJANGO_SIGNIN_FAILURE_LIMIT below the directory's threshold.",
            id="signin.W001",
        )
        for directory in settings.DIRECTORIES.values()
        if directory.lockout_threshold is not None
        and directory.lockout_threshold <= settings.SIGNIN_FAILURE_LIMIT
    ]
