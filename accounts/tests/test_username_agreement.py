"""Differential test: model validation accepts exactly what PostgreSQL accepts."""

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from accounts.forms import UserCreationForm
from accounts.models import User

# Characters that sit near the rule's edges: the backslash and its look-alikes,
# whitespace, line breaks, NUL, and non-ASCII letters.
EDGY = st.sampled_from(
    [
        "\\",
        "＼",  # FULLWIDTH REVERSE SOLIDUS U+FF3C, NFKC-normalises to "\\"
        "∖",  # SET MINUS U+2216
        "⧵",  # REVERSE SOLIDUS OPERATOR U+29F5
        "/",
        " ",
        "\t",
        "\n",
        "\r",
        "\u00a0",
        "\u2028",
        "\x00",
        "é",
        "\u0301",  # COMBINING ACUTE ACCENT: e + U+0301 is not NFKC
        "\u200b",  # ZERO WIDTH SPACE
        "\u202e",  # RIGHT-TO-LEFT OVERRIDE
        "\x1b",  # ESC
        "\u1680",  # OGHAM SPACE MARK, a space NFKC keeps
        "\u3000",
        "\u00ad",  # SOFT HYPHEN
        "\U000e0041",  # TAG LATIN CAPITAL LETTER A
        "ｊ",  # FULLWIDTH LATIN SMALL LETTER J
        "ﬁ",  # LATIN SMALL LIGATURE FI
        "ß",
        "İ",
        "用",
        "😀",
    ]
)
# Lone surrogates (category Cs) cannot arrive: text from HTTP, forms and the
# terminal is decoded from UTF-8 first.
PART = st.text(st.one_of(EDGY, st.characters(exclude_categories=["Cs"])), max_size=12)
USERNAMES = st.one_of(
    PART,
    st.builds(lambda a, b, c: f"{a}\\{b}\\{c}", PART, PART, PART),
    st.builds(lambda a, b: f"\\{a}\\{b}", PART, PART),
    # Around the 255-character limit.
    st.builds(lambda n, c: "\\d\\" + c * n, st.integers(249, 254), EDGY),
)

EXAMPLES = 300


def accepted_by_model(username):
    try:
        User(username=username, password="x").full_clean()
    except ValidationError as exc:
        if set(exc.message_dict) != {"username"}:
            raise
        return False
    return True


def accepted_by_admin_form(username):
    form = UserCreationForm(data={"username": username, "usable_password": "false"})
    return form.is_valid()


def accepted_by_database(username):
    """Return whether PostgreSQL stores `username` as given.

    varchar(255) silently cuts excess characters when they are all spaces (the SQL
    standard's rule), so "accepted" means stored unchanged, not merely no error.
    """
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO users (username, password_hash) VALUES (%s, 'x') "
                "RETURNING username",
                [username],
            )
            transaction.set_rollback(True)
            return cursor.fetchone()[0] == username
    except (DatabaseError, ValueError):
        # CHECK violation, value too long, or a NUL the server cannot store.
        return False


@pytest.mark.django_db
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(USERNAMES)
@example("\\uni\\jsmith")
@example("\\corp＼alice")
@example("＼corp＼alice")
@example("\\corp\\al\x00ice")
@example("\\corp\\alice\n")
@example("\\corp\n\\alice")
@example(" \\corp\\alice")
@example("\\d\\" + "a" * 252)  # 255 characters
@example("\\d\\" + "a" * 253)  # 256 characters
@example("\\d\\" + " " * 253)  # 256 characters, cut to 255 by varchar(255)
@example("")
@example("\\uni\\jsmith\u200b")
@example("\\uni\\j\u202esmith")
@example("\\uni\\ｊsmith")
@example("\\uni \\jsmith")
@example("\\uni\\ jsmith")
@example("\\uni\\jsmith ")
@example("\\uni\\j smith")
@example("\\uni\\jsmith\r")
@example("\\uni\\e\u0301")
def test_model_and_database_accept_the_same_usernames(username):
    database = accepted_by_database(username)
    assert accepted_by_model(username) == database
    assert accepted_by_admin_form(username) == database


def test_strategy__generates_hundreds_of_distinct_usernames():
    """Guard against a strategy that stops generating, whatever the test order."""
    generated = set()

    @settings(max_examples=EXAMPLES, database=None, phases=[Phase.generate])
    @given(USERNAMES)
    def collect(username):
        generated.add(username)

    collect()
    assert len(generated) >= EXAMPLES * 0.8, len(generated)
