"""The users table at both levels: the model (ORM) and raw SQL."""

import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from accounts.models import User
from accounts.tests.usernames import INVALID, LOOKALIKES
from config import settings as project_settings

pytestmark = pytest.mark.django_db


def insert_raw(username, password_hash="x"):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO users (username, password_hash) VALUES (%s, %s) "
            "RETURNING id, is_blocked, is_staff, is_superuser, created_at, updated_at",
            [username, password_hash],
        )
        return cursor.fetchone()


class TestCreate:
    def test_orm__creates_a_user_with_database_defaults(self):
        user = User.objects.create_user("\\uni\\jsmith", password="pw-12345678")
        assert isinstance(user.id, uuid.UUID)
        assert user.is_blocked is False
        assert user.created_at is not None
        assert user.created_at == user.updated_at
        user.refresh_from_db()
        assert user.username == "\\uni\\jsmith"

    def test_orm__knows_the_id_before_the_insert(self):
        user = User(username="\\uni\\jsmith")
        assert isinstance(user.pk, uuid.UUID)
        user.set_password("pw-12345678")
        user.save()
        assert User.objects.get(pk=user.pk) == user

    def test_raw_sql__fills_every_other_column(self):
        user_id, blocked, staff, superuser, created, updated = insert_raw(
            "\\uni\\jsmith"
        )
        assert uuid.UUID(str(user_id)).version == 4
        assert (blocked, staff, superuser) == (False, False, False)
        assert created == updated

    def test_username__is_stored_as_entered(self):
        User.objects.create_user("\\UNI\\JSmith")
        assert User.objects.get().username == "\\UNI\\JSmith"


class TestUniqueUsername:
    @pytest.mark.parametrize("second", ["\\uni\\jsmith", "\\UNI\\JSmith"])
    def test_orm__refuses_a_duplicate_in_any_case(self, second):
        User.objects.create_user("\\uni\\jsmith")
        with pytest.raises(IntegrityError, match="idx_users_username_upper"):
            User.objects.create_user(second)

    @pytest.mark.parametrize("second", ["\\uni\\jsmith", "\\Uni\\JSMITH"])
    def test_raw_sql__refuses_a_duplicate_in_any_case(self, second):
        insert_raw("\\uni\\jsmith")
        with pytest.raises(IntegrityError, match="idx_users_username_upper"):
            insert_raw(second)

    @pytest.mark.parametrize(
        ("first", "second"),
        [("\\uni\\zoë", "\\UNI\\ZOË"), ("\\université\\x", "\\UNIVERSITÉ\\X")],
    )
    def test_non_ascii_case__collides_too(self, first, second):
        """The cluster's LC_CTYPE (C.UTF-8) folds all of Unicode, not only ASCII."""
        insert_raw(first)
        with (
            pytest.raises(IntegrityError, match="idx_users_username_upper"),
            transaction.atomic(),
        ):
            insert_raw(second)
        assert User.objects.get(username__iexact=second).username == first

    def test_full_clean__refuses_a_case_only_duplicate(self):
        User.objects.create_user("\\uni\\jsmith")
        with pytest.raises(ValidationError) as info:
            User(username="\\UNI\\JSMITH", password="x").full_clean()
        assert info.value.messages == ["A user with that username already exists."]

    def test_full_clean__says_once_that_a_name_is_taken(self):
        """Both unique constraints break; the message comes once, at the field."""
        User.objects.create_user("\\uni\\jsmith")
        with pytest.raises(ValidationError) as info:
            User(username="\\uni\\jsmith", password="x").full_clean()
        assert info.value.message_dict == {
            "username": ["A user with that username already exists."]
        }


class TestUsernameFormat:
    @pytest.mark.parametrize("username", INVALID)
    def test_full_clean__refuses(self, username):
        with pytest.raises(ValidationError) as info:
            User(username=username, password="x").full_clean()
        assert "username" in info.value.message_dict

    @pytest.mark.parametrize("username", [u for u in INVALID if u])
    def test_orm__refuses_with_the_check_constraint(self, username):
        with pytest.raises(IntegrityError, match="users_username_format"):
            User(username=username, password="x").save()

    @pytest.mark.parametrize("username", INVALID)
    def test_raw_sql__refuses_with_the_check_constraint(self, username):
        with pytest.raises(IntegrityError, match="users_username_format"):
            insert_raw(username)

    def test_nul_byte__is_a_validation_error(self):
        with pytest.raises(ValidationError) as info:
            User(username="\\corp\\al\x00ice", password="x").full_clean()
        assert [e.code for e in info.value.error_dict["username"]] == [
            "null_characters_not_allowed"
        ]

    @pytest.mark.parametrize(("length", "valid"), [(255, True), (256, False)])
    def test_length__is_at_most_255(self, length, valid):
        username = "\\corp\\" + "a" * (length - 6)
        user = User(username=username, password="x")
        if valid:
            user.full_clean()
            user.save()
        else:
            with pytest.raises(ValidationError, match="at most 255"):
                user.full_clean()


class TestLookAlikeUsernames:
    """Refused by the validators and, through any path, by PostgreSQL."""

    @pytest.mark.parametrize(("username", "rule"), LOOKALIKES)
    def test_full_clean__refuses_with_the_rule_code(self, username, rule):
        with pytest.raises(ValidationError) as info:
            User(username=username, password="x").full_clean()
        codes = {e.code for e in info.value.error_dict["username"]}
        assert {"visible": "lookalike_username", "nfkc": "unnormalized_username"}[
            rule
        ] in codes

    @pytest.mark.parametrize(("username", "rule"), LOOKALIKES)
    def test_orm__refuses_with_the_check_constraint(self, username, rule):
        with pytest.raises(IntegrityError, match=f"users_username_{rule}"):
            User(username=username, password="x").save()

    @pytest.mark.parametrize(("username", "rule"), LOOKALIKES)
    def test_raw_sql__refuses_with_the_check_constraint(self, username, rule):
        with pytest.raises(IntegrityError, match=f"users_username_{rule}"):
            insert_raw(username)

    def test_lookalike_of_an_existing_user__cannot_be_created(self):
        User.objects.create_user("\\uni\\jsmith")
        with pytest.raises(IntegrityError, match="users_username_visible"):
            insert_raw("\\uni\\jsmith\u200b")


class TestUpdatedAt:
    @pytest.fixture
    def old_user(self, user):
        # Move the timestamps into the past so that any update shows.
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE users DISABLE TRIGGER users_set_updated_at")
            cursor.execute(
                "UPDATE users SET created_at = created_at - interval '1 day', "
                "updated_at = updated_at - interval '1 day'"
            )
            cursor.execute("ALTER TABLE users ENABLE TRIGGER users_set_updated_at")
        user.refresh_from_db()
        return user

    def _now(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement_timestamp()")
            return cursor.fetchone()[0]

    def test_save__sets_updated_at(self, old_user):
        before = old_user.updated_at
        old_user.is_staff = True
        old_user.save()
        assert old_user.updated_at - before > timedelta(hours=23)
        assert User.objects.get().updated_at == old_user.updated_at

    def test_save_with_update_fields__sets_updated_at(self, old_user):
        before = old_user.updated_at
        old_user.is_staff = True
        old_user.save(update_fields=["is_staff"])
        assert old_user.updated_at - before > timedelta(hours=23)

    def test_queryset_update__sets_updated_at(self, old_user):
        User.objects.update(is_blocked=True)
        assert abs(User.objects.get().updated_at - self._now()) < timedelta(seconds=5)

    def test_raw_sql_update__sets_updated_at(self, old_user):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE users SET is_blocked = true")
        assert abs(User.objects.get().updated_at - self._now()) < timedelta(seconds=5)

    def test_created_at__does_not_change(self, old_user):
        created = old_user.created_at
        User.objects.update(is_blocked=True)
        assert User.objects.get().created_at == created


class TestPasswords:
    def test_default_hasher__is_bcrypt_sha256_with_at_least_12_rounds(self, settings):
        # The project's list, not the tests' fast one.
        settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
        user = User.objects.create_user("\\uni\\jsmith", password="correct horse 42")
        hasher = identify_hasher(user.password)
        assert hasher.algorithm == "bcrypt_sha256"
        assert hasher.decode(user.password)["work_factor"] >= 12
        assert user.check_password("correct horse 42")
        assert not user.check_password("wrong")
        with connection.cursor() as cursor:
            cursor.execute("SELECT password_hash FROM users")
            assert cursor.fetchone() == (user.password,)

    def test_str_and_repr__show_no_password_or_hash(self, user):
        assert str(user) == "\\uni\\jsmith"
        for text in (str(user), repr(user)):
            assert user.password not in text
            assert "correct horse" not in text


class TestManager:
    @pytest.mark.parametrize(
        ("call", "kwargs", "message"),
        [
            ("create_user", {"username": ""}, "The given username must be set"),
            ("create_user", {"username": None}, "The given username must be set"),
            ("create_user", {"username": "alice"}, "\\domain\\username"),
            (
                "create_superuser",
                {"username": "\\corp\\admin", "is_staff": False},
                "Superuser must have is_staff=True.",
            ),
            (
                "create_superuser",
                {"username": "\\corp\\admin", "is_superuser": False},
                "Superuser must have is_superuser=True.",
            ),
            (
                "create_superuser",
                {"username": "\\corp\\admin", "is_blocked": True},
                "Superuser must not be blocked.",
            ),
        ],
    )
    def test_bad_input__raises_the_exact_value_error(self, call, kwargs, message):
        with pytest.raises(ValueError, match=re.escape(message)):
            getattr(User.objects, call)(password="pw-12345678", **kwargs)
        assert User.objects.count() == 0

    def test_create_superuser__makes_staff_superuser(self):
        admin = User.objects.create_superuser("\\corp\\admin", password="pw-1234")
        assert (admin.is_staff, admin.is_superuser, admin.is_blocked) == (
            True,
            True,
            False,
        )

    def test_get_by_natural_key__ignores_case(self, user):
        assert User.objects.get_by_natural_key("\\UNI\\JSMITH") == user


def test_transaction__integrity_error_leaves_the_table_unchanged(user):
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_raw("\\UNI\\JSMITH")
    assert User.objects.count() == 1
