"""Signing in: any case finds the user; a blocked user gets nowhere."""

from http import HTTPStatus

import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory

from accounts.models import User
from testsupport.frontend import PASSWORD

pytestmark = pytest.mark.django_db


class TestAuthenticate:
    """Through Django's authenticate(), with a request as django-axes requires."""

    @pytest.mark.parametrize(
        "typed", ["\\uni\\jsmith", "\\UNI\\JSMITH", "\\Uni\\jSmith"]
    )
    def test_finds_the_user_in_any_case(self, user, typed):
        assert (
            authenticate(RequestFactory().post("/"), username=typed, password=PASSWORD)
            == user
        )

    def test_refuses_a_wrong_password(self, user):
        assert (
            authenticate(
                RequestFactory().post("/"), username="\\uni\\jsmith", password="wrong"
            )
            is None
        )

    def test_refuses_an_unknown_user(self, db):
        assert (
            authenticate(
                RequestFactory().post("/"), username="\\uni\\nobody", password=PASSWORD
            )
            is None
        )

    def test_refuses_a_blocked_user(self, user):
        User.objects.filter(pk=user.pk).update(is_blocked=True)
        assert (
            authenticate(
                RequestFactory().post("/"), username="\\uni\\jsmith", password=PASSWORD
            )
            is None
        )


@pytest.fixture
def staff(user):
    """Return `user` as a superuser who may use the admin."""
    user.is_staff = user.is_superuser = True
    user.save()
    return user


class TestAdminSignIn:
    def test_typed_name__is_not_normalised_into_another_users(self, client, staff):
        """A fullwidth j (U+FF4A) is not j: NFKC would sign in as `\\uni\\jsmith`."""
        response = client.post(
            "/admin/login/?next=/admin/",
            {"username": "\\uni\\\uff4asmith", "password": PASSWORD},
        )
        assert response.status_code == HTTPStatus.OK  # the form again, with an error
        assert "_auth_user_id" not in client.session

    def test_any_case__signs_in(self, client, staff):
        response = client.post(
            "/admin/login/?next=/admin/",
            {"username": "\\UNI\\JSmith", "password": PASSWORD},
        )
        assert response.status_code == HTTPStatus.FOUND
        assert client.session["_auth_user_id"] == str(staff.pk)


class TestBlockedUser:
    def test_cannot_log_in_to_the_admin(self, client, staff):
        User.objects.filter(pk=staff.pk).update(is_blocked=True)
        response = client.post(
            "/admin/login/?next=/admin/",
            {"username": "\\uni\\jsmith", "password": PASSWORD},
        )
        assert response.status_code == HTTPStatus.OK  # the form again, with an error
        assert "_auth_user_id" not in client.session

    def test_session__stops_working_on_the_next_request(self, client, staff):
        client.post(
            "/admin/login/", {"username": "\\UNI\\JSMITH", "password": PASSWORD}
        )
        assert client.get("/admin/").status_code == HTTPStatus.OK
        User.objects.filter(pk=staff.pk).update(is_blocked=True)
        response = client.get("/admin/")
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"].startswith("/admin/login/")
