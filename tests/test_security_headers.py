"""Content-Security-Policy and Permissions-Policy on every kind of response."""

from http import HTTPStatus

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db
PATHS = ["/admin/login/", "/api/auth/csrf", "/api/auth/me", "/no/such/page"]


@pytest.mark.parametrize("path", PATHS)
def test_csp__is_enforced_scripts_and_styles_from_this_site(path):
    response = Client().get(path)
    policy = csp(response)
    assert policy["default-src"] == "'self'"
    for directive in ("script-src", "style-src"):
        # 'self', and the response's nonce where its page uses one.
        first, *rest = policy[directive].split()
        assert first == "'self'"
        assert all(token.startswith("'nonce-") for token in rest), policy
    assert policy["object-src"] == policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "Content-Security-Policy-Report-Only" not in response


@pytest.mark.parametrize("path", PATHS)
def test_permissions_policy__denies_what_no_page_needs(path):
    policy = Client().get(path)["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()"):
        assert feature in policy
    assert "publickey-credentials-get=(self)" in policy


def test_a_page_with_inline_styles__has_its_own_nonce_for_them():
    from accounts.models import User

    client = Client()
    client.force_login(User.objects.create_superuser("\\corp\\root", password="x"))
    first, second = (client.get("/admin/audit/authevent/") for _ in range(2))
    assert first.status_code == second.status_code == HTTPStatus.OK
    nonce = csp(first)["style-src"].removeprefix("'self' 'nonce-").rstrip("'")
    assert f'<style nonce="{nonce}">' in first.content.decode()
    assert csp(first)["style-src"] != csp(second)["style-src"]


def csp(response) -> dict[str, str]:
    return dict(
        part.strip().split(" ", 1)
        for part in response["Content-Security-Policy"].split(";")
    )
