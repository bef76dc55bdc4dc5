"""Second factors for tests of other things: a staff user's session that has
done its second step, as a real one would have (mfa.flows)."""

from __future__ import annotations

import time

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP

from mfa.flows import PENDING
from mfa.models import STEP, TOTPDevice


def add_totp(user, name="Phone") -> TOTPDevice:
    """A confirmed authenticator app of `user`."""
    device = TOTPDevice.new(user, name)
    device.confirmed = True
    device.save()
    return device


def code(device: TOTPDevice, steps: int = 0) -> str:
    """The device's code now, or `steps` time steps away (clock skew)."""
    totp = TOTP(device.key, step=STEP)
    totp.time = time.time() + steps * STEP
    return f"{totp.token():06d}"


def verify_session(client, user, device=None) -> TOTPDevice:
    """Mark `client`'s session (signed in as `user`) verified by `device`, or a
    new one."""
    device = device or add_totp(user)
    session = client.session
    session.pop(PENDING, None)
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device
