import pytest
from django.core.exceptions import ValidationError

from accounts.validators import DomainUsernameValidator

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
INVALID = [
    "",
    "alice",
    "\\corp",
    "corp\\alice",
    "\\corp\\",
    "\\\\corp\\alice",
    "\\corp\\al\\ice",
    " \\corp\\alice",
    "\\corp\\alice\\",
    "\\corp＼alice",  # fullwidth backslash U+FF3C is not a backslash
    "＼corp＼alice",
    "/corp/alice",
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
