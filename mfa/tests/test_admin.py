"""The admin's doors: the second step, one's own factors, and a superuser's reset."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import Session, User
from audit.models import AuthEvent, Kind
from mfa.models import RecoveryCode, TOTPDevice
from testsupport.frontend import PASSWORD
from testsupport.mfa import add_totp, code, verify_session

pytestmark = [pytest.mark.django_db, pytest.mark.mfa]
STAFF = "\\corp\\counselor"


@pytest.fixture
def staff(db):
    user = User.objects.create_user(STAFF, password=PASSWORD, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_totpdevice"))
    return user


def password_step(username=STAFF) -> Client:
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == HTTPStatus.FOUND
    return client


class TestSecondStep:
    def test_the_admin__sends_a_password_alone_to_the_second_step(self, staff):
        add_totp(staff)
        client = password_step()
        response = client.get("/admin/accounts/user/", follow=True)
        assert response.redirect_chain[-1][0] == (
            "/admin/second-factor/?next=%2Fadmin%2Faccounts%2Fuser%2F"
        )
        assert b"Second step" in response.content

    def test_a_right_code__opens_the_admin_at_next(self, staff):
        device = add_totp(staff)
        client = password_step()
        page = client.get("/admin/second-factor/?next=/admin/")
        assert page.status_code == HTTPStatus.OK
        assert b"Second step" in page.content
        done = client.post(
            "/admin/second-factor/", {"code": code(device), "next": "/admin/"}
        )
        assert done.status_code == HTTPStatus.FOUND
        assert done["Location"] == "/admin/"
        assert client.get("/admin/").status_code == HTTPStatus.OK

    def test_a_wrong_code__says_so(self, staff):
        add_totp(staff)
        client = password_step()
        response = client.post("/admin/second-factor/", {"code": "000000"})
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert b"not right" in response.content

    def test_next__never_leaves_the_site(self, staff):
        device = add_totp(staff)
        client = password_step()
        done = client.post(
            "/admin/second-factor/",
            {"code": code(device), "next": "https://evil.example/"},
        )
        assert done["Location"] == "/admin/"


class TestSetup:
    def test_staff_without_a_factor__must_enrol_first(self, staff):
        client = password_step()
        page = client.get("/admin/", follow=True)
        assert page.redirect_chain[-1][0].startswith("/admin/second-factor/setup/")
        assert page.status_code == HTTPStatus.OK
        assert b"needs a second factor" in page.content

    def test_an_authenticator_app__is_added_with_its_first_code(self, staff):
        client = password_step()
        page = client.post(
            "/admin/second-factor/setup/", {"action": "start_totp", "name": "Phone"}
        )
        assert b"<svg" in page.content
        device = TOTPDevice.objects.get(user=staff, confirmed=False)
        done = client.post(
            "/admin/second-factor/setup/",
            {
                "action": "confirm_totp",
                "device": str(device.public_id),
                "code": code(device),
            },
        )
        assert done.status_code == HTTPStatus.OK
        assert done.content.count(b"<li><code>") == 10
        assert client.get("/admin/").status_code == HTTPStatus.OK

    @pytest.mark.parametrize("device", ["", "not-a-uuid", "1", "'; DROP TABLE x"])
    def test_bad_device_ids__are_no_500(self, staff, device):
        client = password_step()
        for action in ("confirm_totp", "remove"):
            response = client.post(
                "/admin/second-factor/setup/", {"action": action, "device": device}
            )
            assert response.status_code in (HTTPStatus.OK, HTTPStatus.FOUND)

    def test_removing__needs_the_password_once_not_recent(self, staff, settings):
        client = Client()
        client.force_login(staff)
        device = verify_session(client, staff)
        settings.REAUTH_SECONDS = 0
        refused = client.post(
            "/admin/second-factor/setup/",
            {"action": "remove", "device": str(device.public_id)},
        )
        assert b"Confirm your password" in refused.content
        assert TOTPDevice.objects.filter(pk=device.pk).exists()
        client.post(
            "/admin/second-factor/setup/",
            {
                "action": "remove",
                "device": str(device.public_id),
                "password": PASSWORD,
            },
        )
        assert not TOTPDevice.objects.filter(pk=device.pk).exists()


class TestReset:
    def test_a_superuser__resets_a_users_factors_audited(self, admin_client, staff):
        device = add_totp(staff)
        RecoveryCode.objects.all().delete()
        other = Client()
        other.force_login(staff)
        response = admin_client.post(
            "/admin/mfa/totpdevice/",
            {"action": "reset_factors", "_selected_action": [device.pk]},
        )
        assert response.status_code == HTTPStatus.FOUND
        assert not TOTPDevice.objects.filter(user=staff).exists()
        assert not Session.objects.filter(user=staff).exists()
        event = AuthEvent.objects.get(kind=Kind.MFA_RESET)
        assert (event.user, event.actor.username) == (staff, "\\corp\\root")

    def test_other_staff__cannot(self, staff):
        device = add_totp(staff)
        client = Client()
        client.force_login(staff)
        verify_session(client, staff)
        response = client.post(
            "/admin/mfa/totpdevice/",
            {"action": "reset_factors", "_selected_action": [device.pk]},
        )
        assert TOTPDevice.objects.filter(pk=device.pk).exists()
        assert response.status_code in (HTTPStatus.OK, HTTPStatus.FOUND)
        assert not AuthEvent.objects.filter(kind=Kind.MFA_RESET).exists()
