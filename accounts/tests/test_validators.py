import pytest
from django.core.exceptions import ValidationError

from accounts.tests.usernames import INVALID, LOOKALIKES
from accounts.validators import (
    DomainUsernameValidator,
    NFKCUsernameValidator,
    VisibleUsernameValidator,
)

VALID = [
    "\\uni\\jsmith",
    "\\UNI\\JSmith",
    "\\corp\\a",
    "\\x\\y",
    "\\uni.example.edu\\jane.o'neil",
    "\\université\\zoë",
    "\\域\\用户",
    "\\corp\\first last",
    "\\ corp\\ alice ",
    "\\corp\\alice/bob@x",
    # The architecture's rule excludes only backslashes: control characters pass.
    "\\corp\\alice\n",
]


class TestDomainUsernameValidator:
    @pytest.mark.parametrize("username", VALID)
    def test_accepts_domain_logins(self, username):
        DomainUsernameValidator()(username)

    @pytest.mark.parametrize("username", INVALID)
    def test_rejects_other_strings(self, username):
        with pytest.raises(ValidationError, match=r"\\\\domain\\\\username") as info:
            DomainUsernameValidator()(username)
        assert info.value.code == "invalid_username"


PLAIN = ["\\uni\\jsmith", "\\corp\\first last", "\\université\\zoë", "\\域\\用户"]


class TestVisibleUsernameValidator:
    @pytest.mark.parametrize(
        "username", [u for u, rule in LOOKALIKES if rule == "visible"]
    )
    def test_rejects_invisible_characters_and_edge_spaces(self, username):
        with pytest.raises(ValidationError) as info:
            VisibleUsernameValidator()(username)
        assert info.value.code == "lookalike_username"

    @pytest.mark.parametrize("username", PLAIN)
    def test_accepts_plain_names_with_inner_spaces(self, username):
        VisibleUsernameValidator()(username)


class TestNFKCUsernameValidator:
    @pytest.mark.parametrize(
        "username", [u for u, rule in LOOKALIKES if rule == "nfkc"]
    )
    def test_rejects_what_nfkc_changes(self, username):
        with pytest.raises(ValidationError) as info:
            NFKCUsernameValidator()(username)
        assert info.value.code == "unnormalized_username"

    @pytest.mark.parametrize("username", PLAIN)
    def test_accepts_normalized_names(self, username):
        NFKCUsernameValidator()(username)
