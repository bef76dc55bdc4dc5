"""The sign-in API, `/api/auth/...`, as the web frontend calls it (CSRF enforced)."""

import json
import uuid
from http import HTTPStatus

import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts.models import Session, User
from testsupport.frontend import JSON, PASSWORD, CountingHasher, Frontend
from testsupport.servers import SECRET_KEY, manage

pytestmark = pytest.mark.django_db


class TestCsrf:
    def test_sets_the_cookie_and_returns_its_token(self, db):
        client = Client(enforce_csrf_checks=True)
        response = client.get("/api/auth/csrf")
        assert response.status_code == HTTPStatus.OK
        assert response.json()["csrf_token"]
        assert "csrftoken" in response.cookies

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("post", "/api/auth/login"),
            ("post", "/api/auth/logout"),
            ("post", "/api/auth/sessions/end-others"),
            # A fixed id: parametrize ids must be the same in every xdist worker.
            ("delete", "/api/auth/sessions/00000000-0000-4000-8000-000000000000"),
        ],
    )
    def test_state_changing_calls__need_the_token(self, frontend, method, path):
        frontend.sign_in()
        before = Session.objects.count()
        body = {"username": "\\uni\\jsmith", "password": PASSWORD}
        kwargs = {"data": json.dumps(body), "content_type": JSON}
        response = getattr(frontend.client, method)(path, **kwargs)
        assert response.status_code == HTTPStatus.FORBIDDEN
        assert Session.objects.count() == before


class TestLogin:
    def test_signs_in_whatever_case_is_typed(self, frontend, user):
        response = frontend.sign_in(username="\\UNI\\JSmith")
        assert response.status_code == HTTPStatus.OK
        assert response.json() == {"id": str(user.pk), "username": "\\uni\\jsmith"}
        assert frontend.get("/api/auth/me").json()["username"] == "\\uni\\jsmith"

    def test_me__says_the_display_name(self, frontend, user):
        user.display_name = "Jane Smith"
        user.save()
        frontend.sign_in()
        me = frontend.get("/api/auth/me").json()
        assert (me["username"], me["display_name"]) == ("\\uni\\jsmith", "Jane Smith")

    def test_rotates_the_session_key(self, frontend):
        frontend.client.session.save()  # a session from before signing in
        before = frontend.client.cookies["sessionid"].value
        frontend.sign_in()
        after = frontend.client.cookies["sessionid"].value
        assert after != before
        assert list(Session.objects.values_list("pk", flat=True)) == [after]

    @pytest.mark.parametrize(
        ("username", "password"),
        [
            ("\\uni\\jsmith", "wrong password"),
            ("\\uni\\nobody", PASSWORD),
            ("\\uni\\blocked", PASSWORD),
            ("\\uni\\ｊsmith", PASSWORD),  # fullwidth j: never normalised
        ],
    )
    def test_every_failure__is_the_same_401(self, frontend, username, password):
        User.objects.create_user("\\uni\\blocked", password=PASSWORD, is_blocked=True)
        response = frontend.sign_in(username=username, password=password)
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json() == {"error": "invalid credentials"}
        assert not Session.objects.filter(user__isnull=False).exists()

    @pytest.mark.parametrize(
        "username", ["\\uni\\jsmith", "\\uni\\nobody", "\\uni\\blocked"]
    )
    def test_each_attempt__costs_one_hash(self, frontend, settings, username):
        """An unknown user costs a hash too: timing tells no account apart."""
        User.objects.create_user("\\uni\\blocked", password=PASSWORD, is_blocked=True)
        settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
        CountingHasher.calls = 0
        # The stored hashes are MD5 without the counter: checking them verifies
        # through the counting hasher's algorithm, which encodes once.
        frontend.sign_in(username=username, password="wrong password")
        assert CountingHasher.calls == 1


class TestBadInput:
    """A 4xx naming the field, never a 500; nothing written."""

    @pytest.mark.parametrize(
        ("raw", "status", "field"),
        [
            ("{not json", HTTPStatus.BAD_REQUEST, None),
            ("[]", HTTPStatus.UNPROCESSABLE_ENTITY, None),
            ('{"password": "x"}', HTTPStatus.UNPROCESSABLE_ENTITY, "username"),
            ('{"username": "\\\\a\\\\b"}', HTTPStatus.UNPROCESSABLE_ENTITY, "password"),
            (
                '{"username": 42, "password": "x"}',
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "username",
            ),
            (
                '{"username": "\\\\a\\\\b", "password": ["x"]}',
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "password",
            ),
            (
                '{"username": "\\\\a\\\\b\\u0000", "password": "x"}',
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "username",
            ),
            (
                '{"username": "\\\\a\\\\b", "password": "x\\u0000"}',
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "password",
            ),
            (
                json.dumps({"username": "\\a\\" + "b" * 300, "password": "x"}),
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "username",
            ),
        ],
    )
    def test_malformed_login__is_a_4xx_naming_the_field(
        self, frontend, raw, status, field
    ):
        response = frontend.post("/api/auth/login", raw=raw)
        assert response.status_code == status, response.content
        if field is not None:
            body = response.json()
            assert body["error"] == "invalid input"
            assert field in body["fields"]
        assert not Session.objects.exists()

    def test_ten_megabytes__is_a_413(self, frontend):
        body = json.dumps({"username": "\\a\\b", "password": "x" * 10_000_000})
        response = frontend.post("/api/auth/login", raw=body)
        assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        assert response.json() == {"error": "request body too large"}
        assert not Session.objects.exists()


class TestLogoutAndMe:
    def test_logout__is_204_and_deletes_the_row(self, frontend):
        frontend.sign_in()
        key = frontend.client.cookies["sessionid"].value
        response = frontend.post("/api/auth/logout")
        assert response.status_code == HTTPStatus.NO_CONTENT
        assert not Session.objects.filter(pk=key).exists()
        assert frontend.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED

    def test_signed_out__me_and_logout_are_401(self, frontend):
        assert frontend.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED
        response = frontend.post("/api/auth/logout")
        assert response.status_code == HTTPStatus.UNAUTHORIZED


class TestSessions:
    @pytest.fixture
    def laptop_and_phone(self, user):
        laptop, phone = Frontend("laptop/1.0"), Frontend("phone/2.0")
        laptop.sign_in()
        phone.sign_in()
        return laptop, phone

    def test_list__shows_own_sessions_never_their_keys(self, laptop_and_phone):
        laptop, _ = laptop_and_phone
        other = Frontend("other/3.0")
        User.objects.create_user("\\uni\\adoe", password=PASSWORD)
        other.sign_in(username="\\uni\\adoe")
        response = laptop.get("/api/auth/sessions")
        rows = response.json()
        assert sorted((r["user_agent"], r["current"]) for r in rows) == [
            ("laptop/1.0", True),
            ("phone/2.0", False),
        ]
        assert set(rows[0]) == {
            "id",
            "current",
            "created_at",
            "last_seen_at",
            "expires_at",
            "idle_expires_at",
            "ip",
            "user_agent",
        }
        for key in Session.objects.values_list("pk", flat=True):
            assert key not in response.content.decode()

    def test_delete__ends_one_own_session(self, laptop_and_phone):
        laptop, phone = laptop_and_phone
        phone_id = Session.objects.get(user_agent="phone/2.0").public_id
        response = laptop.delete(f"/api/auth/sessions/{phone_id}")
        assert response.status_code == HTTPStatus.NO_CONTENT
        assert phone.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED
        assert laptop.get("/api/auth/me").status_code == HTTPStatus.OK

    def test_delete__anothers_session_is_not_found(self, laptop_and_phone):
        laptop, _ = laptop_and_phone
        User.objects.create_user("\\uni\\adoe", password=PASSWORD)
        Frontend("other/3.0").sign_in(username="\\uni\\adoe")
        theirs = Session.objects.get(user_agent="other/3.0").public_id
        for target in (theirs, uuid.uuid4()):
            response = laptop.delete(f"/api/auth/sessions/{target}")
            assert response.status_code == HTTPStatus.NOT_FOUND
        assert Session.objects.filter(public_id=theirs).exists()

    def test_delete__the_current_one_signs_out(self, laptop_and_phone):
        laptop, _ = laptop_and_phone
        mine = Session.objects.get(user_agent="laptop/1.0").public_id
        assert laptop.delete(f"/api/auth/sessions/{mine}").status_code == (
            HTTPStatus.NO_CONTENT
        )
        assert laptop.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED

    def test_end_others__keeps_only_the_current(self, laptop_and_phone):
        laptop, phone = laptop_and_phone
        response = laptop.post("/api/auth/sessions/end-others")
        assert response.json() == {"ended": 1}
        assert list(Session.objects.values_list("user_agent", flat=True)) == [
            "laptop/1.0"
        ]
        assert phone.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED


class TestCookieAndDocs:
    def test_session_cookie__httponly_lax_with_the_configured_age(self, frontend):
        frontend.sign_in()
        cookie = frontend.client.cookies["sessionid"]
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["max-age"] == django_settings.SESSION_COOKIE_AGE == 8 * 3600

    def test_openapi__describes_the_auth_api(self, db):
        paths = Client().get("/api/openapi.json").json()["paths"]
        assert {
            "/api/auth/csrf",
            "/api/auth/login",
            "/api/auth/logout",
            "/api/auth/me",
            "/api/auth/sessions",
            "/api/auth/sessions/{id}",
            "/api/auth/sessions/end-others",
        } <= set(paths)

    def test_docs__are_off_unless_enabled(self, db):
        assert Client().get("/api/docs").status_code == HTTPStatus.NOT_FOUND

    @pytest.mark.parametrize(("enabled", "status"), [("true", 200), ("false", 404)])
    def test_docs__follow_django_api_docs(self, enabled, status, database_url):
        result = manage(
            "shell",
            "--no-imports",
            "-c",
            "from django.test import Client;"
            "print(Client().get('/api/docs').status_code)",
            env={
                "DATABASE_URL": database_url,
                "DJANGO_SECRET_KEY": SECRET_KEY,
                "DJANGO_API_DOCS": enabled,
                "DJANGO_ALLOWED_HOSTS": "testserver",
                "DJANGO_SECURE_SSL_REDIRECT": "false",
            },
        )
        assert result.stdout.strip().splitlines()[-1] == str(status), result.stderr

    def test_docs__carry_the_csrf_token_for_try_it_out(self, database_url):
        """Swagger UI sends the page's token with every call, sign-in included."""
        result = manage(
            "shell",
            "--no-imports",
            "-c",
            "import re; from django.test import Client;"
            "page = Client().get('/api/docs').content.decode();"
            'print(re.search(r\'data-csrf-token="([^"]*)"\', page).group(1));'
            'print(re.search(r\'data-api-csrf="([^"]*)"\', page).group(1))',
            env={
                "DATABASE_URL": database_url,
                "DJANGO_SECRET_KEY": SECRET_KEY,
                "DJANGO_API_DOCS": "true",
                "DJANGO_ALLOWED_HOSTS": "testserver",
                "DJANGO_SECURE_SSL_REDIRECT": "false",
            },
        )
        token, wanted = result.stdout.strip().splitlines()[-2:]
        assert len(token) == 64, result.stderr
        assert wanted == "true"


class TestNewCsrfTokenAtSignIn:
    def test_comes_in_a_header_and_works_for_the_next_change(self, user):
        frontend = Frontend()
        response = frontend.post(
            "/api/auth/login", {"username": "\\uni\\jsmith", "password": PASSWORD}
        )
        assert response.status_code == HTTPStatus.OK
        token = response["X-CSRFToken"]
        assert token
        assert token != frontend.token
        logout = frontend.client.post(
            "/api/auth/logout", headers={"X-CSRFToken": token}
        )
        assert logout.status_code == HTTPStatus.NO_CONTENT

    def test_a_failed_sign_in__gives_none(self, user):
        frontend = Frontend()
        response = frontend.post(
            "/api/auth/login", {"username": "\\uni\\jsmith", "password": "wrong"}
        )
        assert "X-CSRFToken" not in response


class TestNoStore:
    """Every answer of the API is personal: no cache may keep it."""

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("get", "/api/auth/me"),
            ("get", "/api/auth/sessions"),
            ("get", "/api/auth/csrf"),
            ("get", "/api/nowhere"),
            ("post", "/api/auth/logout"),
        ],
    )
    def test_api_answers__say_no_store(self, frontend, method, path):
        frontend.sign_in()
        response = getattr(frontend, method)(path)
        assert "no-store" in response["Cache-Control"]

    def test_sign_in__says_no_store_success_or_not(self, frontend):
        assert "no-store" in frontend.sign_in()["Cache-Control"]
        assert "no-store" in frontend.sign_in(password="wrong")["Cache-Control"]


class TestCors:
    """A frontend on an allowed origin calls the API with its cookies; no other."""

    ALLOWED = "https://app.example.edu"
    REFUSED = "https://evil.example.com"

    @pytest.fixture(autouse=True)
    def allowed(self, settings):
        settings.CORS_ALLOWED_ORIGINS = [self.ALLOWED]
        settings.CSRF_TRUSTED_ORIGINS = [self.ALLOWED]

    def preflight(self, origin, path="/api/auth/login"):
        return Client().options(
            path,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, x-csrftoken",
            },
        )

    def test_preflight__from_an_allowed_origin(self, db):
        response = self.preflight(self.ALLOWED)
        assert response.status_code == HTTPStatus.OK
        assert response["Access-Control-Allow-Origin"] == self.ALLOWED
        assert response["Access-Control-Allow-Credentials"] == "true"
        allowed = response["Access-Control-Allow-Headers"].lower()
        assert {"content-type", "x-csrftoken"} <= set(allowed.split(", "))
        assert "POST" in response["Access-Control-Allow-Methods"]

    def test_preflight__from_another_origin_gets_no_grant(self, db):
        response = self.preflight(self.REFUSED)
        assert "Access-Control-Allow-Origin" not in response
        assert "Access-Control-Allow-Credentials" not in response

    def test_preflight__outside_the_api_gets_no_grant(self, db):
        response = self.preflight(self.ALLOWED, path="/admin/login/")
        assert "Access-Control-Allow-Origin" not in response

    @pytest.mark.parametrize(("origin", "granted"), [(ALLOWED, True), (REFUSED, False)])
    def test_credentialed_sign_in_and_me(self, user, origin, granted):
        client = Client(enforce_csrf_checks=True, headers={"Origin": origin})
        token = client.get("/api/auth/csrf").json()["csrf_token"]
        response = client.post(
            "/api/auth/login",
            json.dumps({"username": "\\uni\\jsmith", "password": PASSWORD}),
            content_type=JSON,
            headers={"X-CSRFToken": token, "Origin": origin},
        )
        # Django's CSRF check refuses an untrusted origin; the browser would
        # not have let the frontend read the answer either.
        assert response.status_code == (
            HTTPStatus.OK if granted else HTTPStatus.FORBIDDEN
        )
        me = client.get("/api/auth/me", headers={"Origin": origin})
        assert ("Access-Control-Allow-Origin" in me) is granted
        if granted:
            assert me["Access-Control-Allow-Origin"] == origin
            assert me["Access-Control-Allow-Credentials"] == "true"
            assert me.status_code == HTTPStatus.OK

    def test_default__allows_no_origin(self, monkeypatch):
        from tests.test_settings import load_settings

        loaded = load_settings(monkeypatch)
        assert loaded["CORS_ALLOWED_ORIGINS"] == []
        loaded = load_settings(
            monkeypatch, DJANGO_CORS_ALLOWED_ORIGINS=f"{self.ALLOWED},https://b.edu"
        )
        assert loaded["CORS_ALLOWED_ORIGINS"] == [self.ALLOWED, "https://b.edu"]
        assert self.ALLOWED in loaded["CSRF_TRUSTED_ORIGINS"]


class TestOneErrorShape:
    """Every error of the API is {"error": ...}, documented in OpenAPI."""

    def test_401__when_signed_out(self, frontend):
        for path in ("/api/auth/me", "/api/auth/sessions"):
            response = frontend.get(path)
            assert response.status_code == HTTPStatus.UNAUTHORIZED
            assert response.json() == {"error": "authentication required"}

    def test_403__both_csrf_refusals_say_the_same(self, frontend):
        frontend.sign_in()
        client = frontend.client
        body = json.dumps({"username": "\\uni\\jsmith", "password": PASSWORD})
        login = client.post("/api/auth/login", body, content_type=JSON)
        logout = client.post("/api/auth/logout")
        assert login.status_code == logout.status_code == HTTPStatus.FORBIDDEN
        assert (
            login.json()
            == logout.json()
            == {"error": "CSRF token missing or incorrect"}
        )

    @pytest.mark.parametrize(
        ("method", "path", "status", "error"),
        [
            ("get", "/api/nowhere", HTTPStatus.NOT_FOUND, "not found"),
            (
                "get",
                "/api/auth/login",
                HTTPStatus.METHOD_NOT_ALLOWED,
                "method not allowed",
            ),
        ],
    )
    def test_django_errors_under_the_api__are_json(
        self, db, method, path, status, error
    ):
        response = getattr(Client(), method)(path)
        assert response.status_code == status
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"error": error}
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            assert "POST" in response["Allow"]

    def test_multipart_without_boundary__is_a_json_400(self, frontend):
        frontend.sign_in()
        response = frontend.client.post(
            "/api/auth/sessions/end-others",
            b"x",
            content_type="multipart/form-data",
            headers={"X-CSRFToken": frontend.token},
        )
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert set(response.json()) == {"error"}

    def test_422__names_the_fields_never_the_values(self, frontend):
        secret = "Sup3r-Secret-" + "x" * 5000
        response = frontend.post(
            "/api/auth/login", {"username": ["\\uni\\jsmith"], "password": secret}
        )
        assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
        body = response.json()
        assert body["error"] == "invalid input"
        assert set(body["fields"]) == {"username", "password"}
        assert "Sup3r-Secret" not in response.content.decode()

    def test_openapi__documents_each_operations_errors(self, db):
        paths = Client().get("/api/openapi.json").json()["paths"]

        def codes(path, method):
            return set(paths[path][method]["responses"])

        assert {"401", "403", "413", "422", "429", "503"} <= codes(
            "/api/auth/login", "post"
        )
        assert {"401", "503"} <= codes("/api/auth/me", "get")
        assert {"401", "503"} <= codes("/api/auth/sessions", "get")
        assert {"401", "403"} <= codes("/api/auth/logout", "post")
        assert {"401", "403", "404"} <= codes("/api/auth/sessions/{id}", "delete")
        assert {"401", "403"} <= codes("/api/auth/sessions/end-others", "post")
