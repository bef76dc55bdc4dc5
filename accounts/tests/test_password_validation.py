"""The password rules (NIST SP 800-63B), as Django's validate_password applies them."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ImproperlyConfigured, ValidationError

from accounts.models import User
from accounts.password_validation import UsernamePartsValidator
from testsupport.settings import load_settings

USERNAME = "\\uni\\jsmith"


@pytest.fixture
def student():
    return User(username=USERNAME)


def codes(password, user) -> set[str]:
    try:
        validate_password(password, user)
    except ValidationError as error:
        return {e.code for e in error.error_list}
    return set()


class TestPasswordRules:
    @pytest.mark.parametrize(
        "password",
        [
            "correct horse 42",  # 16 characters, words and spaces
            "a" * 11 + "b",  # exactly 12, no composition rule
            "839201746253",  # digits only are allowed: no composition rules
            "x" * 64,  # at least 64 accepted
            "pass phrase " * 20,  # 240: no maximum here
            "jsmith likes long walks",  # a part, but not most of it
        ],
    )
    def test_valid(self, student, password):
        assert codes(password, student) == set()

    @pytest.mark.parametrize(
        ("password", "code"),
        [
            ("short pass", "password_too_short"),
            ("a" * 11, "password_too_short"),
            ("password1234", "password_too_common"),
            ("jsmithjsmith", "password_is_username_parts"),
            ("UNI-jsmith-2024", "password_is_username_parts"),
            ("\\uni\\jsmith!!", "password_is_username_parts"),
        ],
    )
    def test_invalid(self, student, password, code):
        assert code in codes(password, student)

    def test_message__never_echoes_the_password(self, student):
        with pytest.raises(ValidationError) as raised:
            validate_password("jsmithjsmith", student)
        assert "jsmithjsmith" not in " ".join(raised.value.messages)

    def test_without_a_user__the_parts_rule_has_nothing_to_compare(self):
        UsernamePartsValidator().validate("jsmithjsmith")


class TestMinimumLength:
    def test_default__is_12(self, monkeypatch):
        loaded = load_settings(monkeypatch)
        assert loaded["PASSWORD_MIN_LENGTH"] == 12

    def test_comes_from_the_environment(self, monkeypatch):
        loaded = load_settings(monkeypatch, DJANGO_PASSWORD_MIN_LENGTH="15")
        minimum = next(
            v["OPTIONS"]["min_length"]
            for v in loaded["AUTH_PASSWORD_VALIDATORS"]
            if v["NAME"].endswith("MinimumLengthValidator")
        )
        assert minimum == 15

    def test_below_8__is_refused(self, monkeypatch):
        with pytest.raises(
            ImproperlyConfigured, match="DJANGO_PASSWORD_MIN_LENGTH must be"
        ):
            load_settings(monkeypatch, DJANGO_PASSWORD_MIN_LENGTH="6")
