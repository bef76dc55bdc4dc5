"""Rotating DJANGO_MFA_KEY: a new key first, rotate_mfa_key, the old one gone."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command

from accounts.models import User
from mfa.models import TOTPDevice
from testsupport.mfa import add_totp

pytestmark = pytest.mark.django_db


def test_rotation__keeps_every_secret_readable_by_the_new_key_alone(settings):
    old = settings.MFA_KEYS[0]
    device = add_totp(User.objects.create_user("\\corp\\staff", is_staff=True))
    key = device.key
    new = Fernet.generate_key().decode()
    settings.MFA_KEYS = [new, old]
    call_command("rotate_mfa_key")
    settings.MFA_KEYS = [new]
    assert TOTPDevice.objects.get(pk=device.pk).key == key


def test_a_secret_no_key_opens__changes_nothing(settings):
    device = add_totp(User.objects.create_user("\\corp\\staff", is_staff=True))
    stored = device.encrypted_key
    settings.MFA_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="opens with no key"):
        call_command("rotate_mfa_key")
    assert TOTPDevice.objects.get(pk=device.pk).encrypted_key == stored
    with pytest.raises(InvalidToken):
        TOTPDevice.objects.get(pk=device.pk).key  # noqa: B018
