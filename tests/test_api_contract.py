"""The API against its own OpenAPI document: schemathesis, with every check.

schemathesis generates valid and invalid calls of every operation from
/api/openapi.json and sends them through the whole Django stack (WSGI, every
middleware), signed out and signed in (a fresh session and CSRF token per
call, since some calls end it). It fails on a 5xx, a status or content type the
document does not list for the operation, or a body that does not match it.
Generated passwords are wrong: the lockout limit is raised for this test only.
"""

import hypothesis
import pytest
import schemathesis
from django.test import Client

from accounts.models import User
from config.wsgi import application
from testsupport.frontend import PASSWORD

# Read once, at collection: the document is built without the database.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)
USERNAME = "\\uni\\jsmith"
# Committed, as a served app commits: the WSGI handler ends its connection.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_lockouts(settings):
    settings.AXES_FAILURE_LIMIT = 1_000_000


@pytest.fixture
def student(db):
    return User.objects.create_user(USERNAME, password=PASSWORD)


def signed_in(user) -> dict:
    """Return the cookies and header of a fresh session of `user`."""
    client = Client()
    client.force_login(user)
    token = client.get("/api/auth/csrf").json()["csrf_token"]
    cookies = {name: cookie.value for name, cookie in client.cookies.items()}
    return {"cookies": cookies, "headers": {"X-CSRFToken": token}}


# The same examples on every run (CI stays reproducible); 300 examples an
# operation found nothing more than 50 do.
FUZZ = hypothesis.settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    suppress_health_check=[
        hypothesis.HealthCheck.function_scoped_fixture,
        hypothesis.HealthCheck.too_slow,
    ],
)


@schema.parametrize()
@FUZZ
def test_signed_out(case):
    case.call_and_validate()


@schema.parametrize()
@FUZZ
def test_signed_in(case, student):
    """The same calls from a signed-in browser: its real cookie and CSRF token.

    Where schemathesis leaves the session cookie out on purpose (testing the
    call without it), it stays out: that call must be refused.
    """
    cookies = case.cookies or {}
    needs_session = "security" in case.operation.definition.raw
    if "sessionid" in cookies or not needs_session:
        given = signed_in(student)
        case.cookies = {**cookies, **given["cookies"]}
        case.headers = {**(case.headers or {}), **given["headers"]}
    case.call_and_validate()


def test_the_signed_in_run__is_signed_in(student):
    from werkzeug.test import Client as WsgiClient

    client = WsgiClient(application)
    given = signed_in(student)
    for name, value in given["cookies"].items():
        client.set_cookie(name, value, domain="localhost")
    assert client.get("/api/auth/me").status_code == 200
    end_others = client.post("/api/auth/sessions/end-others", headers=given["headers"])
    assert end_others.status_code == 200
