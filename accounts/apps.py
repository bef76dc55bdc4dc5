from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Connects the receivers that remember failed sign-ins' addresses.
        from accounts import throttling  # noqa: F401
