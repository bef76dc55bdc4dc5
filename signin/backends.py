from django.contrib.auth.backends import ModelBackend


class UserBackend(ModelBackend):
    """Django's ModelBackend for `accounts.User`.

    The lookup is already case-insensitive (`UserManager.get_by_natural_key`) and a
    blocked user is inactive (`User.is_active`). This subclass exists because Django
    requires a unique `username` field for its default backend (auth.E003), while
    uniqueness here is case-insensitive and enforced by the idx_users_username_upper
    index.
    """
