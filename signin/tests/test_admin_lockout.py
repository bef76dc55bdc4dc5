"""Lockouts in the users admin (signin.admin): who is locked out and until when,
and the "Unlock" button, for staff with accounts.unlock_user only, audited."""

import json
import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from accounts.models import User
from audit.models import AuthEvent, Kind
from testsupport.frontend import PASSWORD

pytestmark = pytest.mark.django_db
LIMIT = 5
ADDRESS_LIMIT = 50


@pytest.fixture(autouse=True)
def limits(settings):
    settings.AXES_FAILURE_LIMIT = settings.SIGNIN_FAILURE_LIMIT = LIMIT
    settings.SIGNIN_ADDRESS_FAILURE_LIMIT = ADDRESS_LIMIT
    settings.SIGNIN_COOLOFF_SECONDS = 900
    settings.AXES_COOLOFF_TIME = timedelta(seconds=900)
    settings.TIME_ZONE = "Europe/Berlin"


def sign_in(username="\\uni\\jsmith", password=PASSWORD, ip="192.0.2.10"):
    return Client(REMOTE_ADDR=ip).post(
        "/api/auth/login",
        json.dumps({"username": username, "password": password}),
        content_type="application/json",
    )


def fail(times, username="\\uni\\jsmith", ip="192.0.2.10"):
    for _ in range(times):
        assert sign_in(username, "wrong password", ip).status_code in {401, 429}


def lock_address(ip):
    """Fail once for each of ADDRESS_LIMIT names from `ip` (a name stops
    counting at its own limit)."""
    for n in range(ADDRESS_LIMIT):
        fail(1, f"\\uni\\guess{n}", ip=ip)


def status(page: str, username: str) -> str:
    """The "Can sign in" cell of `username`'s row in the users list."""
    (row,) = [
        row
        for row in re.findall(r"<tr>.*?</tr>", page, re.DOTALL)
        if f">{username}</a>" in row
    ]
    cell = re.search(r'class="field-can_sign_in">(.*?)</td>', row, re.DOTALL)
    return re.sub(r"<[^>]+>", "", cell.group(1)).strip()


def staff(*permissions) -> Client:
    member = User.objects.create_user(
        "\\corp\\counselor", password=PASSWORD, is_staff=True
    )
    for codename in ("view_user", *permissions):
        member.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client(REMOTE_ADDR="198.51.100.7")
    client.force_login(member)
    return client


class TestList:
    def test_a_locked_out_user__says_until_when_in_the_admins_time_zone(
        self, user, admin_client
    ):
        User.objects.create_user("\\uni\\adoe", password=PASSWORD)
        fail(LIMIT)
        last = AccessAttempt.objects.get().attempt_time
        until = timezone.localtime(last + timedelta(seconds=900))
        page = admin_client.get("/admin/accounts/user/").content.decode()
        assert status(page, "\\uni\\jsmith") == f"No: locked out until {until:%H:%M}"
        assert status(page, "\\uni\\adoe") == "Yes"

    def test_below_the_limit_or_past_the_cool_off__can_sign_in(
        self, user, admin_client
    ):
        fail(LIMIT - 1)
        page = admin_client.get("/admin/accounts/user/").content.decode()
        assert status(page, "\\uni\\jsmith") == "Yes"
        fail(1)
        AccessAttempt.objects.update(
            attempt_time=timezone.now() - timedelta(seconds=901)
        )
        page = admin_client.get("/admin/accounts/user/").content.decode()
        assert status(page, "\\uni\\jsmith") == "Yes"

    def test_blocked__says_blocked_whatever_the_lockout(self, user, admin_client):
        fail(LIMIT)
        User.objects.filter(pk=user.pk).update(is_blocked=True)
        page = admin_client.get("/admin/accounts/user/").content.decode()
        assert status(page, "\\uni\\jsmith") == "No: blocked"

    def test_the_page__reads_the_lockouts_in_one_query(
        self, user, admin_client, django_assert_max_num_queries
    ):
        for n in range(30):
            User.objects.create_user(f"\\uni\\student{n}", password=PASSWORD)
            fail(1, f"\\uni\\student{n}")
        with django_assert_max_num_queries(8) as queries:
            admin_client.get("/admin/accounts/user/")
        assert (
            sum('"axes_accessattempt"' in q["sql"] for q in queries.captured_queries)
            == 1
        )


class TestUserPage:
    def test_says_what_keeps_the_user_out(self, user, admin_client):
        fail(LIMIT)
        lock_address("192.0.2.99")
        fail(1, ip="192.0.2.99")
        page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
        text = page.content.decode()
        assert "Sign-in lockout" in text
        assert "Locked out until" in text
        assert "The address 192.0.2.99" in text
        assert 'id="unlock-account"' in text

    def test_not_locked__says_so_and_offers_no_button(self, user, admin_client):
        page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
        text = page.content.decode()
        assert "Not locked out" in text
        assert 'id="unlock-account"' not in text


class TestUnlock:
    def test_unlock__clears_the_lockout_and_the_user_signs_in(self, user, admin_client):
        fail(LIMIT)
        assert sign_in().status_code == HTTPStatus.TOO_MANY_REQUESTS
        response = admin_client.post(f"/admin/accounts/user/{user.pk}/unlock/")
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"] == f"/admin/accounts/user/{user.pk}/change/"
        assert sign_in().status_code == HTTPStatus.OK
        event = AuthEvent.objects.get(kind=Kind.SIGNIN_UNLOCKED)
        assert (event.user_id, event.actor.username, event.detail) == (
            user.pk,
            "\\corp\\root",
            {"cleared": LIMIT},
        )

    def test_unlock_address__clears_it_for_every_name(self, user, admin_client):
        lock_address("192.0.2.99")
        fail(1, ip="192.0.2.99")
        assert sign_in(ip="192.0.2.99").status_code == HTTPStatus.TOO_MANY_REQUESTS
        admin_client.post(
            f"/admin/accounts/user/{user.pk}/unlock/", {"ip": "192.0.2.99"}
        )
        assert sign_in(ip="192.0.2.99").status_code == HTTPStatus.OK
        assert AuthEvent.objects.get(kind=Kind.SIGNIN_UNLOCKED).detail == {
            "cleared": ADDRESS_LIMIT,
            "address": "192.0.2.99",
        }

    def test_an_address_that_keeps_the_user_not_out__is_refused(
        self, user, admin_client
    ):
        lock_address("192.0.2.99")
        response = admin_client.post(
            f"/admin/accounts/user/{user.pk}/unlock/", {"ip": "192.0.2.99"}
        )
        assert response.status_code == HTTPStatus.FORBIDDEN
        assert AccessAttempt.objects.filter(ip_address="192.0.2.99").exists()

    def test_view_permission_alone__sees_the_lockout_but_cannot_unlock(self, user):
        fail(LIMIT)
        client = staff()
        page = client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
        assert "Locked out until" in page
        assert 'id="unlock-account"' not in page
        response = client.post(f"/admin/accounts/user/{user.pk}/unlock/")
        assert response.status_code == HTTPStatus.FORBIDDEN
        assert sign_in().status_code == HTTPStatus.TOO_MANY_REQUESTS

    def test_with_the_permission__staff_unlock(self, user):
        fail(LIMIT)
        client = staff("unlock_user")
        page = client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
        assert 'id="unlock-account"' in page
        client.post(f"/admin/accounts/user/{user.pk}/unlock/")
        assert sign_in().status_code == HTTPStatus.OK

    def test_get__is_not_allowed(self, user, admin_client):
        fail(LIMIT)
        response = admin_client.get(f"/admin/accounts/user/{user.pk}/unlock/")
        assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
        assert sign_in().status_code == HTTPStatus.TOO_MANY_REQUESTS

    def test_without_the_csrf_token__is_refused(self, user, superuser):
        fail(LIMIT)
        client = Client(enforce_csrf_checks=True, REMOTE_ADDR="198.51.100.7")
        client.force_login(superuser)
        response = client.post(f"/admin/accounts/user/{user.pk}/unlock/")
        assert response.status_code == HTTPStatus.FORBIDDEN
        assert sign_in().status_code == HTTPStatus.TOO_MANY_REQUESTS

    def test_an_unknown_user__is_404(self, admin_client):
        response = admin_client.post(
            "/admin/accounts/user/00000000-0000-0000-0000-000000000000/unlock/"
        )
        assert response.status_code == HTTPStatus.NOT_FOUND

    def test_the_axes_tables__are_not_in_the_admin(self, admin_client):
        assert admin_client.get("/admin/axes/accessattempt/").status_code == 404
