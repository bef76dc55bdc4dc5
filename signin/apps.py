from django.apps import AppConfig


class SigninConfig(AppConfig):
    """The sign-in flow: its API, backend, bounded hasher and lockout callables."""

    name = "signin"
    verbose_name = "Sign-in"
