from django.apps import AppConfig


class SigninConfig(AppConfig):
    """The sign-in flow: its API, backend, bounded hasher and lockout callables."""

    name = "signin"
    verbose_name = "Sign-in"

    def ready(self) -> None:
        # Connects the receiver that gives each signed-in browser its device cookie.
        from signin import devices  # noqa: F401
