from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class SigninConfig(AppConfig):
    """The sign-in flow: its API, backend, bounded hasher and lockout callables."""

    name = "signin"
    default = True
    verbose_name = "Sign-in"

    def ready(self) -> None:
        # Connect the receivers: each sign-in clears the user's failures, gives
        # the browser its device cookie and records the authentication time
        # (signin.signals); the directory's (signin.directory); the start-up checks.
        from signin import checks, directory, signals  # noqa: F401


class AdminConfig(admin_apps.AdminConfig):
    """Django's admin, on the platform's site (signin.admin_site)."""

    default = False
    default_site = "signin.admin_site.PlatformAdminSite"
