from django.contrib.auth.base_user import BaseUserManager
from django.core.exceptions import ValidationError

from accounts.validators import DomainUsernameValidator


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        # `\UNI\JSmith` and `\uni\jsmith` are the same Windows account; the
        # idx_users_username_upper index on UPPER(username) serves this lookup.
        return self.get(username__iexact=username)

    def _create_user(self, username, password, **extra_fields):
        if not username:
            raise ValueError("The given username must be set")
        try:
            DomainUsernameValidator()(username)
        except ValidationError as exc:
            raise ValueError(exc.messages[0]) from None
        user = self.model(username=username, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, username, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(username, password, **extra_fields)

    def create_superuser(self, username, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if extra_fields.get("is_staff") is not True:
            raise ValueError("Superuser must have is_staff=True.")
        if extra_fields.get("is_superuser") is not True:
            raise ValueError("Superuser must have is_superuser=True.")
        if extra_fields.get("is_blocked"):
            raise ValueError("Superuser must not be blocked.")
        return self._create_user(username, password, **extra_fields)
