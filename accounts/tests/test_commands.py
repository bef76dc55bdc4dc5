"""`manage.py createsuperuser`, with and without prompts."""

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User

pytestmark = pytest.mark.django_db


class TestCreatesuperuser:
    def test_noinput__takes_the_username_from_the_environment(self, monkeypatch):
        monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "\\corp\\admin")
        monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-pass-phrase")
        call_command("createsuperuser", interactive=False, verbosity=0)
        admin = User.objects.get()
        assert (admin.username, admin.is_superuser, admin.is_staff) == (
            "\\corp\\admin",
            True,
            True,
        )
        assert admin.check_password("a-long-pass-phrase")

    @pytest.mark.parametrize("username", ["corp\\admin", "\\corp＼admin"])
    def test_noinput__refuses_a_bad_username(self, monkeypatch, username):
        monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-pass-phrase")
        with pytest.raises(CommandError, match=r"\\domain\\username"):
            call_command(
                "createsuperuser", interactive=False, username=username, verbosity=0
            )
        assert not User.objects.exists()

    def test_noinput__refuses_a_case_only_duplicate(self, monkeypatch, user):
        monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-pass-phrase")
        with pytest.raises(CommandError, match="already taken"):
            call_command(
                "createsuperuser",
                interactive=False,
                username="\\UNI\\JSMITH",
                verbosity=0,
            )

    def test_interactive__prompts_until_the_username_is_valid(
        self, monkeypatch, capsys
    ):
        answers = iter(["alice", "\\corp\\admin"])
        monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
        monkeypatch.setattr("getpass.getpass", lambda prompt="": "a-long-pass-phrase")
        monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
        call_command("createsuperuser", interactive=True, stdin=FakeTTY())
        assert User.objects.get().username == "\\corp\\admin"
        assert "\\domain\\username" in capsys.readouterr().err


class FakeTTY:
    def isatty(self):
        return True
