"""Look-alike names across scripts: one UTS #39 skeleton, one user (migration 0008)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection

from accounts.forms import UserCreationForm
from accounts.models import User
from testsupport.frontend import PASSWORD

pytestmark = pytest.mark.django_db

# Each pair looks the same: the second must be refused once the first exists.
LOOKALIKES = [
    ("\\uni\\alice", "\\uni\\\u0430lice"),  # Cyrillic a
    ("\\uni\\paypal", "\\uni\\p\u0430yp\u0430l"),
    ("\\uni\\jsmith", "\\uni\\jsrnith"),  # rn for m
    ("\\uni\\bill", "\\uni\\bi11"),  # digit one for l
    ("\\uni\\olga", "\\uni\\\u03bflga"),  # Greek omicron
    ("\\lab\\kim", "\\1ab\\kim"),  # in the domain too
]
DISTINCT = [("\\uni\\alice", "\\uni\\alicia"), ("\\uni\\ann", "\\lab\\ann")]


def skeleton(name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT username_skeleton(%s)", [name])
        return cursor.fetchone()[0]


@pytest.mark.parametrize(("first", "second"), LOOKALIKES)
class TestLookalikes:
    def test_skeletons__are_equal(self, first, second):
        assert skeleton(first) == skeleton(second)

    def test_orm__refused_by_postgresql(self, first, second):
        User.objects.create_user(first, password=PASSWORD)
        with pytest.raises(IntegrityError, match="users_username_skeleton"):
            User.objects.create_user(second, password=PASSWORD)

    def test_raw_sql__refused_too(self, first, second):
        User.objects.create_user(first, password=PASSWORD)
        with (
            connection.cursor() as cursor,
            pytest.raises(IntegrityError, match="users_username_skeleton"),
        ):
            cursor.execute(
                "INSERT INTO users (username, password_hash) VALUES (%s, 'x')",
                [second],
            )

    def test_validation__names_the_field_with_the_message(self, first, second):
        User.objects.create_user(first, password=PASSWORD)
        with pytest.raises(ValidationError) as raised:
            User(username=second).full_clean(exclude=["password"])
        errors = raised.value.error_dict["username"]
        assert [e.code for e in errors] == ["confusable"]
        assert "looks the same" in errors[0].messages[0]


@pytest.mark.parametrize(("first", "second"), DISTINCT)
def test_distinct_names__are_both_allowed(first, second):
    User.objects.create_user(first, password=PASSWORD)
    User.objects.create_user(second, password=PASSWORD)
    assert skeleton(first) != skeleton(second)


def test_renaming_into_a_lookalike__is_refused():
    User.objects.create_user("\\uni\\alice", password=PASSWORD)
    other = User.objects.create_user("\\uni\\bob", password=PASSWORD)
    with (
        connection.cursor() as cursor,
        pytest.raises(IntegrityError, match="users_username_skeleton"),
    ):
        cursor.execute(
            "UPDATE users SET username = %s WHERE id = %s",
            ["\\uni\\\u0430lice", other.pk],
        )


def test_a_user__may_save_their_own_name_again():
    user = User.objects.create_user("\\uni\\alice", password=PASSWORD)
    user.full_clean(exclude=["password"])
    user.save()


def test_admin_add_form__shows_the_message():
    User.objects.create_user("\\uni\\alice", password=PASSWORD)
    form = UserCreationForm(
        data={
            "username": "\\uni\\\u0430lice",
            "usable_password": "true",
            "password1": "a long pass phrase",
            "password2": "a long pass phrase",
        }
    )
    assert not form.is_valid()
    assert any("looks the same" in e for e in form.errors["username"])


# The skeleton straight from the table, as migration 0008 computed every name.
FROM_THE_TABLE = """
SELECT coalesce(normalize(
    string_agg(coalesce(c.prototype, t.ch), '' ORDER BY t.n), NFD
), '')
FROM unnest(string_to_array(normalize(lower(%s), NFD), NULL))
    WITH ORDINALITY AS t(ch, n)
LEFT JOIN username_confusables c ON c.source = t.ch
"""


def from_the_table(name):
    with connection.cursor() as cursor:
        cursor.execute(FROM_THE_TABLE, [name])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("code", range(1, 128))
def test_ascii_fast_path__agrees_with_the_table(code):
    """Migration 0009 maps ASCII names without the table: the same skeletons."""
    name = f"\\a{chr(code)}b\\{chr(code)}{chr(code)}m"
    assert skeleton(name) == from_the_table(name)


@pytest.mark.parametrize(
    "name", ["\\uni\\j\u0430ne", "\\uni\\zo\u00eb", "\\\u0391\\x", "\\uni\\\u2160"]
)
def test_other_names__agree_with_the_table(name):
    assert skeleton(name) == from_the_table(name)
