"""`manage.py unlock` (make unlock): what it clears, and what it says."""

from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from audit.events import record
from audit.models import Kind

pytestmark = pytest.mark.django_db


def unlock(*args) -> str:
    out = StringIO()
    call_command("unlock", *args, stdout=out)
    return out.getvalue()


def failures(username, ip, n):
    AccessAttempt.objects.create(
        username=username, ip_address=ip, user_agent="t", failures_since_start=n
    )


class TestUnlock:
    def test_user__clears_the_name_in_any_case_and_its_devices(self):
        failures("\\UNI\\JSMITH", "192.0.2.1", 3)
        failures("\\UNI\\JSMITH (device 0a1b)", "192.0.2.2", 2)
        failures("\\UNI\\OTHER", "192.0.2.1", 4)
        assert unlock("--user", "\\uni\\JSmith") == (
            "Cleared 5 failed sign-ins of \\uni\\JSmith.\n"
        )
        assert list(AccessAttempt.objects.values_list("username", flat=True)) == [
            "\\UNI\\OTHER"
        ]

    def test_user__names_the_locked_address_it_tried_from(self, settings):
        settings.SIGNIN_ADDRESS_FAILURE_LIMIT = 50
        failures("\\UNI\\TYPO", "192.0.2.9", 60)
        # The user's own try, refused for the address's failures.
        request = RequestFactory().post("/api/auth/login", REMOTE_ADDR="192.0.2.9")
        record(Kind.SIGNIN_LOCKED_OUT, request, username="\\uni\\jsmith")
        said = unlock("--user", "\\uni\\jsmith")
        assert said.splitlines() == [
            "Cleared 0 failed sign-ins of \\uni\\jsmith.",
            "The address 192.0.2.9 is locked too (60 failed sign-ins from it, for "
            "any names): make unlock IP=192.0.2.9",
        ]

    def test_ip__clears_every_name_from_it(self):
        failures("\\UNI\\A", "192.0.2.9", 30)
        failures("\\UNI\\B", "192.0.2.9", 30)
        failures("\\UNI\\C", "192.0.2.8", 1)
        assert unlock("--ip", "192.0.2.9") == (
            "Cleared 60 failed sign-ins from 192.0.2.9.\n"
        )
        assert AccessAttempt.objects.count() == 1

    def test_nobody__is_an_error_saying_how(self):
        with pytest.raises(CommandError, match="name whom to unlock"):
            call_command("unlock")
