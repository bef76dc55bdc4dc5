from django.apps import AppConfig


class SigninConfig(AppConfig):
    """The sign-in flow: its API, backend, bounded hasher and lockout callables."""

    name = "signin"
    verbose_name = "Sign-in"

    def ready(self) -> None:
        # Connect the receivers: each sign-in clears the user's failures, gives
        # the browser its device cookie and records the authentication time
        # (signin.signals); the directory's (signin.directory); the start-up checks.
        from signin import checks, directory, signals  # noqa: F401
