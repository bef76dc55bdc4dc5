import uuid
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import PermissionsMixin
from django.contrib.postgres.functions import RandomUUID
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.sessions.base_session import (
    AbstractBaseSession,
    BaseSessionManager,
)
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import models
from django.db.models import F, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Now, Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import search  # noqa: F401 - registers the foldcontains lookup
from accounts.managers import UserManager
from accounts.names import split
from accounts.validators import (
    USERNAME_CONFUSABLE_MESSAGE,
    USERNAME_LOOKALIKE_MESSAGE,
    USERNAME_LOOKALIKE_REGEX,
    USERNAME_MESSAGE,
    USERNAME_NFKC_MESSAGE,
    USERNAME_REGEX,
    DomainUsernameValidator,
    NFKCUsernameValidator,
    VisibleUsernameValidator,
)
from core.clients import USER_AGENT_LENGTH


class IsNFKCNormalized(models.Func):
    """PostgreSQL's `expression IS NFKC NORMALIZED` (13+), for a CHECK constraint."""

    template = "%(expressions)s IS NFKC NORMALIZED"
    output_field = models.BooleanField()


class Fold(models.Func):
    """search_fold(text): upper() of unaccent(), for the name indexes
    (accounts.search)."""

    function = "search_fold"
    output_field = models.TextField()

    def __init__(self, expression):
        super().__init__(Cast(expression, models.TextField()))


class NaturalKey(models.Func):
    """username_sort_key(text): the name with its final number made comparable as
    a number (`adavis2` before `adavis10`), for the admin's order and its index."""

    function = "username_sort_key"
    output_field = models.TextField()

    def __init__(self, expression):
        super().__init__(Cast(expression, models.TextField()))


class User(AbstractBaseUser, PermissionsMixin):
    """A student or staff member, known by a Windows-domain login `\\domain\\username`.

    Django's auth and admin add `last_login`, `is_superuser`, `is_staff` and the
    groups and permissions tables.
    """

    # gen_random_uuid(), and a Python default so the ORM knows the id before the insert.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, db_default=RandomUUID())
    username = models.CharField(
        _("username"),
        max_length=255,
        validators=[
            DomainUsernameValidator(),
            ProhibitNullCharactersValidator(),
            VisibleUsernameValidator(),
            NFKCUsernameValidator(),
        ],
        help_text=_("A Windows-domain login of the form \\domain\\username."),
        error_messages={"unique": _("A user with that username already exists.")},
    )
    # Django's password machinery's column; 255 leave room for any hasher's output.
    password = models.CharField(
        _("password"), max_length=255, db_column="password_hash"
    )
    is_blocked = models.BooleanField(
        _("blocked"),
        default=False,
        db_default=False,
        help_text=_("A blocked user can neither sign in nor keep a session."),
    )
    is_staff = models.BooleanField(
        _("staff status"),
        default=False,
        db_default=False,
        help_text=_("Designates whether the user can log into this admin site."),
    )
    # With a database default, so that a raw INSERT of username and hash works.
    is_superuser = models.BooleanField(
        _("superuser status"),
        default=False,
        db_default=False,
        help_text=_("Designates that this user has all permissions."),
    )
    display_name = models.CharField(
        _("display name"), max_length=255, blank=True, default="", db_default=""
    )
    email = models.EmailField(
        _("e-mail address"), max_length=254, blank=True, default="", db_default=""
    )
    # The directory entry's objectGUID, for a user its directory signs in
    # (signin.directory): the identity, whatever the entry's name becomes.
    directory_guid = models.UUIDField(
        _("directory GUID"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Set when the domain's directory signs this user in."),
    )
    # Set with is_blocked by sync_directory (disabled or gone in the directory),
    # so that a later sync unblocks only whom it blocked; unblocking clears it
    # (the users_clear_directory_block trigger).
    blocked_by_directory = models.BooleanField(
        _("blocked by the directory"),
        default=False,
        db_default=False,
        editable=False,
        help_text=_(
            "Blocked by sync_directory: the entry is disabled or gone in the "
            "directory. A sync unblocks the user when the entry is enabled again."
        ),
    )
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)
    # Kept right by the users_set_updated_at trigger on every UPDATE, raw SQL too.
    updated_at = models.DateTimeField(_("updated"), db_default=Now(), editable=False)

    objects = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = []

    class Meta:
        db_table = "users"
        verbose_name = _("user")
        verbose_name_plural = _("users")
        # The user's page has an "Unlock" button for staff with it (signin.admin).
        permissions = [("unlock_user", _("Can clear a user's sign-in lockout"))]
        constraints = [
            # Exact lookups (reports, `filter(username=...)`) use it; unique, as
            # the next one already makes every name, so that the admin knows the
            # list's order by name is total and adds no tiebreaker on the id.
            models.UniqueConstraint(fields=["username"], name="idx_users_username"),
            # Case-insensitive uniqueness, and the index of the login lookup
            # (`username__iexact` compiles to UPPER(username) = UPPER(%s)).
            models.UniqueConstraint(
                Upper("username"),
                name="idx_users_username_upper",
                violation_error_message=_("A user with that username already exists."),
            ),
            # One user per directory entry in a domain (the name's `\\domain\\`).
            models.UniqueConstraint(
                F("directory_guid"),
                Upper(
                    models.Func(
                        F("username"),
                        Value("\\"),
                        Value(2),
                        function="split_part",
                        output_field=models.CharField(),
                    )
                ),
                name="idx_users_directory_guid",
            ),
            models.CheckConstraint(
                condition=models.Q(username__regex=USERNAME_REGEX),
                name="users_username_format",
                violation_error_code="invalid_username",
                violation_error_message=USERNAME_MESSAGE,
            ),
            models.CheckConstraint(
                condition=~models.Q(username__regex=USERNAME_LOOKALIKE_REGEX),
                name="users_username_visible",
                violation_error_code="lookalike_username",
                violation_error_message=USERNAME_LOOKALIKE_MESSAGE,
            ),
            models.CheckConstraint(
                condition=IsNFKCNormalized("username"),
                name="users_username_nfkc",
                violation_error_code="unnormalized_username",
                violation_error_message=USERNAME_NFKC_MESSAGE,
            ),
        ]
        indexes = [
            # The admin's case- and accent-insensitive substring search
            # (accounts.search: search_fold(username::text) LIKE ...): trigrams.
            GinIndex(
                OpClass(Fold("username"), name="gin_trgm_ops"),
                name="idx_users_login_fold_trgm",
            ),
            GinIndex(
                OpClass(Fold("display_name"), name="gin_trgm_ops"),
                name="idx_users_name_fold_trgm",
            ),
            models.Index(
                fields=["is_blocked"],
                condition=models.Q(is_blocked=True),
                name="idx_users_is_blocked",
            ),
            # The admin's list in natural order, a page at a time.
            models.Index(
                NaturalKey("username"), F("username"), name="idx_users_natural_order"
            ),
        ]

    def __str__(self):
        return self.username

    def validate_constraints(self, exclude=None):
        """Say once that a name is taken, at the field.

        A name taken as typed breaks both unique constraints, the plain one (at
        the field) and the case-insensitive one (for the whole form).
        """
        try:
            super().validate_constraints(exclude)
        except ValidationError as error:
            errors = error.error_dict
            said = set(ValidationError(errors.get("username", [])).messages)
            rest = [
                e
                for e in errors.pop(NON_FIELD_ERRORS, [])
                if not set(e.messages) <= said
            ]
            if rest:
                errors[NON_FIELD_ERRORS] = rest
            raise ValidationError(errors) from None
        # Another user's name with this one's UTS #39 skeleton (migration 0008),
        # but an approved look-alike's (LookalikeApproval), as the index has it.
        lookalikes = RawSQL(
            "SELECT id FROM users WHERE username_skeleton = username_skeleton(%s) "
            "AND NOT username_lookalike_approved",
            [self.username],
        )
        if "username" not in (exclude or ()) and (
            User.objects.filter(pk__in=lookalikes).exclude(pk=self.pk).exists()
        ):
            raise ValidationError(
                {"username": ValidationError(USERNAME_CONFUSABLE_MESSAGE, "confusable")}
            )

    def save(self, *args, **kwargs):
        if not self._state.adding:
            # The trigger sets updated_at; an expression makes Django read it back.
            self.updated_at = Now()
            if (update_fields := kwargs.get("update_fields")) is not None:
                kwargs["update_fields"] = {*update_fields, "updated_at"}
        super().save(*args, **kwargs)

    @property
    def signs_in_with_directory(self) -> bool:
        """Whether the domain's directory checks this user's password: every
        user of a DIRECTORY_DOMAINS domain (signin.directory routes by domain)."""
        parts = split(self.username)
        return parts is not None and parts[0].lower() in settings.DIRECTORIES

    @property
    def is_active(self):
        """Let Django's auth refuse blocked users: login, admin and sessions alike."""
        return not self.is_blocked

    @classmethod
    def normalize_username(cls, username):
        # Stored as entered. Django's NFKC would turn the fullwidth backslash
        # U+FF3C into `\`, accepting in Python what PostgreSQL refuses.
        return username


class LookalikeApproval(models.Model):
    """A name from the directory that may look like another user's: two real,
    different people (\\LINCOLN\\mash, Mary Ash, beside \\LINCOLN\\rnash),
    approved by staff with `--allow-lookalike` (import_users --domain,
    sync_directory).

    The user of an approved name is left out of the skeletons' unique index
    (users.username_lookalike_approved, claimed by the command that writes the
    user and checked against this table by the users_keep_skeleton trigger);
    every other look-alike, and any made by hand, is still refused by
    PostgreSQL. Each approval is an audit event.
    """

    username = models.CharField(_("username"), max_length=150)
    looks_like = models.CharField(
        _("looks like"),
        max_length=150,
        blank=True,
        help_text=_("The user the name resembled when it was approved."),
    )
    approved_by = models.ForeignKey(
        User,
        on_delete=models.DB_SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(_("approved"), db_default=Now(), editable=False)

    class Meta:
        db_table = "lookalike_approvals"
        verbose_name = _("look-alike approval")
        verbose_name_plural = _("look-alike approvals")
        constraints = [
            models.UniqueConstraint(
                Upper("username"), name="idx_lookalike_approvals_username"
            ),
        ]

    def __str__(self) -> str:
        return self.username


class SessionQuerySet(models.QuerySet):
    def live(self):
        """The sessions within every limit: Session.is_live, as SQL."""
        now = timezone.now()
        return self.filter(
            expire_date__gt=now,
            created_at__gt=now - Session.cookie_age(),
            last_seen_at__gt=now - Session.idle_limit() - Session.touch_interval(),
        )


class SessionManager(BaseSessionManager.from_queryset(SessionQuerySet)):
    pass


class Session(AbstractBaseSession):
    """A signed-in browser: Django's database session, tied to its user by PostgreSQL.

    The database ends sessions itself: deleting a user cascades (ON DELETE
    CASCADE), and the users_end_sessions trigger deletes a user's sessions when
    the user is blocked or the password changes, whatever path made the change.
    """

    # What the API shows instead of the session key, which is a credential.
    public_id = models.UUIDField(
        unique=True, default=uuid.uuid4, db_default=RandomUUID(), editable=False
    )
    user = models.ForeignKey(
        User,
        on_delete=models.DB_CASCADE,
        null=True,
        blank=True,
        related_name="sessions",
        # idx_sessions_user below serves lookups by user.
        db_index=False,
        help_text=_("Empty until someone signs in with this session."),
    )
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)
    # Written when the session is saved, else at most once a minute (SessionStore).
    last_seen_at = models.DateTimeField(_("last seen"), db_default=Now())
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(
        _("user agent"), max_length=USER_AGENT_LENGTH, blank=True, default=""
    )

    objects = SessionManager()

    class Meta(AbstractBaseSession.Meta):
        db_table = "sessions"
        indexes = [
            # "All sessions of this user", newest first: the admin and the API.
            models.Index(fields=["user", "-last_seen_at"], name="idx_sessions_user"),
        ]

    def __str__(self):
        # Not the session key, which is a credential (the base class shows it).
        return str(self.public_id)

    @property
    def expires_at(self):
        """When it ends whatever it does: SESSION_COOKIE_AGE after sign-in."""
        return self.created_at + self.cookie_age()

    @property
    def idle_expires_at(self):
        """When it ends if unused until then: SESSION_IDLE_SECONDS after its use."""
        return self.last_seen_at + self.idle_limit()

    def is_live(self) -> bool:
        """Within every limit: the one rule of a live session (SessionQuerySet.live).

        Idle: last_seen_at is written at most once a touch_interval(), so a use
        may be that much later than it says; the limit counts from the latest
        possible use, and a session in use never ends, at any idle limit.
        """
        now = timezone.now()
        return (
            now < self.expire_date
            and now < self.expires_at
            and now < self.idle_expires_at + self.touch_interval()
        )

    @staticmethod
    def cookie_age() -> timedelta:
        return timedelta(seconds=settings.SESSION_COOKIE_AGE)

    @staticmethod
    def idle_limit() -> timedelta:
        return timedelta(seconds=settings.SESSION_IDLE_SECONDS)

    @staticmethod
    def touch_interval() -> timedelta:
        """How stale last_seen_at may be: a write a minute at most, a sixtieth of
        the idle limit when that is shorter (one second at the lowest, 60 s)."""
        return min(timedelta(minutes=1), Session.idle_limit() / 60)

    @classmethod
    def get_session_store_class(cls):
        # By name, as Django's middleware loads it: the store imports this module.
        return import_module(settings.SESSION_ENGINE).SessionStore
