"""Sign-in under attack: lockouts (django-axes) and the bound on hashing."""

import base64
import contextlib
import ipaddress
import json
import threading
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt
from django.core.wsgi import get_wsgi_application
from django.test import Client, RequestFactory

from accounts.models import User
from core.clients import client_ip
from health.probes import serve_probes
from signin import devices, hashers
from testsupport.frontend import PASSWORD, CountingHasher
from testsupport.settings import load_settings
from testsupport.wsgi import call

pytestmark = pytest.mark.django_db
LIMIT = 5
ADDRESS_LIMIT = 50


@pytest.fixture(autouse=True)
def counted_hashes(settings):
    settings.PASSWORD_HASHERS = [f"{CountingHasher.__module__}.CountingHasher"]
    settings.AXES_FAILURE_LIMIT = settings.SIGNIN_FAILURE_LIMIT = LIMIT
    settings.SIGNIN_ADDRESS_FAILURE_LIMIT = ADDRESS_LIMIT
    CountingHasher.calls = 0
    return CountingHasher


def attempt(username, password="wrong password", ip="192.0.2.10"):
    return Client(REMOTE_ADDR=ip).post(
        "/api/auth/login",
        json.dumps({"username": username, "password": password}),
        content_type="application/json",
    )


def fail(times, username="\\uni\\jsmith", ips=None):
    for n in range(times):
        ip = ips[n % len(ips)] if ips else "192.0.2.10"
        response = attempt(username, ip=ip)
        assert response.status_code in {HTTPStatus.UNAUTHORIZED, 429}


class TestLockout:
    def test_per_username__from_any_address(self, user, counted_hashes):
        fail(LIMIT, ips=[f"198.51.100.{n}" for n in range(1, LIMIT + 1)])
        counted_hashes.calls = 0
        locked = attempt("\\uni\\jsmith", PASSWORD, ip="203.0.113.77")
        assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert locked.json() == {
            "error": "too many failed sign-ins for this account: try again later",
            "locked": "account",
            "retry_after": 900,
        }
        assert int(locked["Retry-After"]) > 0
        assert counted_hashes.calls == 0  # refused before the hasher

    def test_username_key__ignores_case(self, user):
        fail(3, username="\\UNI\\JSmith", ips=["198.51.100.1", "198.51.100.2"])
        fail(2, username="\\uni\\jsmith", ips=["198.51.100.3"])
        locked = attempt("\\Uni\\JSMITH", PASSWORD, ip="203.0.113.77")
        assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS

    def test_per_address__after_its_own_limit_for_any_usernames(
        self, user, counted_hashes
    ):
        for n in range(ADDRESS_LIMIT):
            attempt(f"\\uni\\guess{n}", ip="192.0.2.66")
        counted_hashes.calls = 0
        locked = attempt("\\uni\\jsmith", PASSWORD, ip="192.0.2.66")
        assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert locked.json()["locked"] == "address"
        assert locked.json()["error"] == (
            "too many failed sign-ins from this address: try again later"
        )
        assert counted_hashes.calls == 0
        assert attempt("\\uni\\jsmith", PASSWORD, ip="192.0.2.67").status_code == (
            HTTPStatus.OK
        )

    def test_per_address__twenty_other_names_leave_it_open(self, user):
        """A school's NAT: other people's typos do not lock everyone out."""
        for n in range(20):
            assert attempt(f"\\uni\\typo{n}", ip="192.0.2.66").status_code == (
                HTTPStatus.UNAUTHORIZED
            )
        assert attempt("\\uni\\jsmith", PASSWORD, ip="192.0.2.66").status_code == (
            HTTPStatus.OK
        )

    def test_locked_answer__is_the_same_for_a_name_that_does_not_exist(self, user):
        fail(LIMIT, username="\\uni\\nobody")
        fail(LIMIT)
        nobody = attempt("\\uni\\nobody", ip="203.0.113.9")
        somebody = attempt("\\uni\\jsmith", ip="203.0.113.9")
        assert nobody.status_code == somebody.status_code == 429
        assert nobody.json() == somebody.json()

    def test_own_sign_ins__do_not_wash_out_guesses_at_a_classmate(self, user):
        """The attacker signs in as themselves between rounds of guesses."""
        User.objects.create_user("\\uni\\attacker", password="attacker pass 42")
        attacker = Client(REMOTE_ADDR="192.0.2.10")
        statuses = []
        for _ in range(3):
            for _ in range(LIMIT - 1):
                statuses.append(
                    attacker.post(
                        "/api/auth/login",
                        {"username": "\\uni\\jsmith", "password": "guess"},
                        content_type="application/json",
                    ).status_code
                )
            own = attacker.post(
                "/api/auth/login",
                {"username": "\\uni\\attacker", "password": "attacker pass 42"},
                content_type="application/json",
            )
            assert own.status_code == HTTPStatus.OK
        assert HTTPStatus.TOO_MANY_REQUESTS in statuses
        for ip in ("192.0.2.10", "203.0.113.40"):
            locked = attempt("\\uni\\jsmith", PASSWORD, ip=ip)
            assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS

    def test_success__keeps_other_names_failures_from_the_address(self, user):
        User.objects.create_user("\\uni\\other", password=PASSWORD)
        fail(LIMIT - 1)
        assert attempt("\\uni\\other", PASSWORD).status_code == HTTPStatus.OK
        assert AccessAttempt.objects.get(
            username="\\UNI\\JSMITH"
        ).failures_since_start == (LIMIT - 1)

    def test_success__resets_the_count(self, user):
        fail(LIMIT - 1)
        assert attempt("\\uni\\jsmith", PASSWORD).status_code == HTTPStatus.OK
        fail(LIMIT - 1)
        assert attempt("\\uni\\jsmith", PASSWORD).status_code == HTTPStatus.OK

    def test_admin_login__shows_a_clear_page(self, user, settings):
        user.is_staff = True
        user.save()
        client = Client(REMOTE_ADDR="192.0.2.10")
        for _ in range(LIMIT):
            client.post(
                "/admin/login/", {"username": "\\uni\\jsmith", "password": "nope"}
            )
        response = client.post(
            "/admin/login/", {"username": "\\uni\\jsmith", "password": PASSWORD}
        )
        assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert b"Too many failed sign-ins" in response.content
        assert "Retry-After" in response
        # In the admin's look, under the platform's name.
        page = response.content.decode()
        assert "admin/css/login.css" in page
        assert f"<title>Too many failed sign-ins | {settings.SITE_NAME}</title>" in page
        assert "try again in 15 minutes" in page

    def test_attempts_during_a_lockout__do_not_extend_it(self, user):
        fail(LIMIT)
        before = list(
            AccessAttempt.objects.values_list("attempt_time", "failures_since_start")
        )
        for _ in range(3):
            locked = attempt("\\uni\\jsmith", PASSWORD)
            assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
        after = list(
            AccessAttempt.objects.values_list("attempt_time", "failures_since_start")
        )
        assert after == before

    def test_whitelisted_address__is_never_locked_out(self, user, settings):
        """axes' own settings decide, as axes documents them."""
        settings.AXES_NEVER_LOCKOUT_WHITELIST = True
        settings.AXES_IP_WHITELIST = ["192.0.2.10"]
        fail(LIMIT + 2)
        assert attempt("\\uni\\jsmith", PASSWORD).status_code == HTTPStatus.OK


class TestClientAddress:
    @pytest.fixture(autouse=True)
    def proxy(self, settings):
        settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]

    @pytest.mark.parametrize(
        ("peer", "forwarded", "expected"),
        [
            ("10.0.0.2", "203.0.113.5", "203.0.113.5"),
            ("10.0.0.2", "198.51.100.9, 203.0.113.5, 10.0.0.3", "203.0.113.5"),
            ("203.0.113.5", "198.51.100.9", "203.0.113.5"),  # untrusted peer
            ("10.0.0.2", "", "10.0.0.2"),
            ("10.0.0.2", "garbage, 203.0.113.5", "203.0.113.5"),
            ("10.0.0.2", "203.0.113.5, garbage", "10.0.0.2"),
            ("not-an-ip", "203.0.113.5", None),
        ],
    )
    def test_forwarded_for__only_through_trusted_proxies(
        self, peer, forwarded, expected
    ):
        request = RequestFactory().get(
            "/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded
        )
        assert client_ip(request) == expected

    def test_lockout__keys_on_the_forwarded_address(self, user):
        def behind_proxy(client_address, n):
            return Client(
                REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=client_address
            ).post(
                "/api/auth/login",
                json.dumps({"username": f"\\uni\\guess{n}", "password": "wrong"}),
                content_type="application/json",
            )

        for n in range(ADDRESS_LIMIT):
            behind_proxy("203.0.113.5", n)
        assert behind_proxy("203.0.113.5", 999).status_code == 429
        assert behind_proxy("203.0.113.6", 98).status_code == (HTTPStatus.UNAUTHORIZED)


class TestBoundedHasher:
    @pytest.fixture
    def saturated(self, settings):
        """Hold every hashing slot of this process, as a flood would."""
        settings.SIGNIN_HASH_WAIT = 0.2
        settings.PASSWORD_HASHERS = ["signin.hashers.BoundedBCryptSHA256PasswordHasher"]
        hashers._slots = threading.BoundedSemaphore(1)
        assert hashers._slots.acquire(blocking=False)
        yield
        hashers._slots.release()
        hashers._slots = None

    def test_a_free_slot__hashes_as_djangos_bcrypt_sha256(self, settings):
        settings.PASSWORD_HASHERS = ["signin.hashers.BoundedBCryptSHA256PasswordHasher"]
        hashers._slots = None
        user = User.objects.create_user("\\uni\\bounded", password=PASSWORD)
        assert user.password.startswith("bcrypt_sha256$")
        assert user.check_password(PASSWORD)
        assert hashers._slots._value == settings.SIGNIN_HASH_SLOTS  # all released

    @pytest.mark.parametrize(
        ("threads", "slots"), [("3", 2), ("5", 4), ("2", 1), ("1", 1)]
    )
    def test_slots__are_one_fewer_than_threads(self, monkeypatch, threads, slots):
        loaded = load_settings(monkeypatch, GUNICORN_THREADS=threads)
        assert loaded["SIGNIN_HASH_SLOTS"] == slots

    def test_saturated__sign_in_is_a_quick_503_with_retry_after(self, user, saturated):
        response = attempt("\\uni\\jsmith", PASSWORD)
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert response["Retry-After"] == "1"
        assert response.json() == {"error": "sign-in is busy: try again shortly"}

    def test_saturated__admin_sign_in_is_a_503_not_a_500(self, user, saturated):
        response = Client().post(
            "/admin/login/", {"username": "\\uni\\jsmith", "password": PASSWORD}
        )
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert "Retry-After" in response

    def test_saturated__probes_and_pages_still_answer(self, user, saturated):
        # Built here, under the tests' settings (config/wsgi.py's stack).
        application = serve_probes(get_wsgi_application())
        assert call(application, "GET", "/health")[0] == HTTPStatus.OK
        assert Client().get("/api/auth/csrf").status_code == HTTPStatus.OK


def attempt_from_device(device, password=PASSWORD, ip="192.0.2.50", username=None):
    """Sign in from a browser holding the device cookie `device` (or none)."""
    client = Client(REMOTE_ADDR=ip)
    if device:
        client.cookies["device"] = device
    return client.post(
        "/api/auth/login",
        json.dumps({"username": username or "\\uni\\jsmith", "password": password}),
        content_type="application/json",
    )


class TestDeviceCookies:
    """OWASP's device cookies: nobody can lock a student out of their own devices."""

    @pytest.fixture
    def device(self, user):
        response = attempt_from_device(None)
        assert response.status_code == HTTPStatus.OK
        return response.cookies["device"].value

    def test_sign_in__gives_a_signed_httponly_cookie_for_the_user(self, user, settings):
        response = attempt_from_device(None)
        cookie = response.cookies["device"]
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["max-age"] == settings.DEVICE_COOKIE_AGE
        assert (
            devices.device_of(RequestFactory(COOKIES={}).get("/"), "\\UNI\\JSMITH")
            is None
        )
        request = RequestFactory().get("/")
        request.COOKIES["device"] = cookie.value
        assert devices.device_of(request, "\\UNI\\JSMITH") is not None
        assert devices.device_of(request, "\\UNI\\OTHER") is None

    def test_cookie__names_nobody(self, user):
        """On a shared lab PC the next person cannot read who signed in."""
        value = attempt_from_device(None).cookies["device"].value
        readable = value
        for part in value.split(":"):
            with contextlib.suppress(ValueError):
                readable += base64.urlsafe_b64decode(
                    part + "=" * (-len(part) % 4)
                ).decode("latin-1")
        assert "JSMITH" not in readable.upper()
        assert "UNI" not in readable.upper()

    def test_secure__with_secure_cookies(self, user, settings):
        settings.SESSION_COOKIE_SECURE = True
        assert attempt_from_device(None).cookies["device"]["secure"] is True

    def test_failed_sign_in__gives_none(self, user):
        response = attempt_from_device(None, password="wrong password")
        assert "device" not in response.cookies

    def test_victims_device__signs_in_while_the_username_is_locked(self, device):
        fail(LIMIT, ips=[f"198.51.100.{n}" for n in range(1, LIMIT + 1)])
        elsewhere = attempt_from_device(None, ip="203.0.113.77")
        assert elsewhere.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert attempt_from_device(device).status_code == HTTPStatus.OK

    def test_a_device__locks_itself_out_not_the_user(self, device, counted_hashes):
        for n in range(LIMIT):
            attempt_from_device(device, password="wrong", ip=f"198.51.100.{n + 1}")
        counted_hashes.calls = 0
        locked = attempt_from_device(device, ip="203.0.113.5")
        assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert counted_hashes.calls == 0
        other = attempt_from_device(None, ip="203.0.113.6")
        assert other.status_code == HTTPStatus.OK

    @pytest.mark.parametrize("kind", ["another user's", "tampered", "expired"])
    def test_other_cookies__count_as_none(self, device, settings, kind):
        cookie = {
            "another user's": devices.issue("\\UNI\\MALLORY"),
            "tampered": device[:-2] + ("AA" if not device.endswith("AA") else "BB"),
            "expired": device,
        }[kind]
        if kind == "expired":
            settings.DEVICE_COOKIE_AGE = -1
        fail(LIMIT, ips=[f"198.51.100.{n}" for n in range(1, LIMIT + 1)])
        status = attempt_from_device(cookie, ip="203.0.113.8").status_code
        assert status == HTTPStatus.TOO_MANY_REQUESTS

    def test_address_lockout__never_stops_a_device_holder(self, device):
        for n in range(ADDRESS_LIMIT + 10):
            attempt(f"\\uni\\guess{n}", ip="192.0.2.66")
        assert attempt("\\uni\\jsmith", PASSWORD, ip="192.0.2.66").status_code == 429
        assert attempt_from_device(device, ip="192.0.2.66").status_code == HTTPStatus.OK

    def test_success_from_a_device__clears_the_users_failures(self, device):
        fail(LIMIT - 1, ips=["203.0.113.20"])
        assert attempt_from_device(device).status_code == HTTPStatus.OK
        assert not AccessAttempt.objects.filter(username="\\UNI\\JSMITH").exists()


class TestStoredHashes:
    """Whatever hash the table holds, sign-in answers 401 or 200, never 5xx."""

    @pytest.fixture(autouse=True)
    def project_hashers(self, settings):
        settings.PASSWORD_HASHERS = [
            "signin.hashers.BoundedBCryptSHA256PasswordHasher",
            "signin.hashers.BoundedBCryptPasswordHasher",
            "signin.hashers.BoundedPBKDF2PasswordHasher",
        ]

    @pytest.fixture
    def stored(self, user):
        def store(hashed):
            User.objects.filter(pk=user.pk).update(password=hashed)

        return store

    @pytest.mark.parametrize(
        "hashed",
        [
            "bcrypt$$2b$99$" + "a" * 53,
            "bcrypt$$2b$15$" + "a" * 53,
            "bcrypt$$2b$12$" + "!" * 53,
            "pbkdf2_sha256$1$salt$" + "A" * 43 + "=",
            "pbkdf2_sha256$notanumber$salt$x",
            "md5$salt$" + "0" * 32,
        ],
    )
    def test_an_unusable_hash__is_a_failed_sign_in_and_a_log_line(
        self, stored, hashed, caplog
    ):
        stored(hashed)
        response = attempt("\\uni\\jsmith", PASSWORD)
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json() == {"error": "invalid credentials"}

    def test_a_costly_hash__is_not_computed(self, stored, caplog):
        stored(f"bcrypt${bcrypt_at(15)}")
        attempt("\\uni\\jsmith", PASSWORD)
        assert "password hash not checked: bcrypt cost 15 is outside 10 to 14" in (
            caplog.text
        )

    def test_the_empty_password__is_refused_by_the_api(self, user):
        response = attempt("\\uni\\jsmith", "")
        assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
        assert response.json()["error"] == "invalid input"

    def test_every_hasher__checks_inside_a_slot(self, stored, settings):
        from django.contrib.auth.hashers import PBKDF2PasswordHasher

        stored(PBKDF2PasswordHasher().encode(PASSWORD, "somesalt", 600_000))
        settings.SIGNIN_HASH_WAIT = 0.1
        hashers._slots = threading.BoundedSemaphore(1)
        assert hashers._slots.acquire(blocking=False)
        try:
            response = attempt("\\uni\\jsmith", PASSWORD)
        finally:
            hashers._slots.release()
            hashers._slots = None
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert attempt("\\uni\\jsmith", PASSWORD).status_code == HTTPStatus.OK


def bcrypt_at(cost: int) -> str:
    """A syntactically valid bcrypt hash of that cost (never computed)."""
    return f"$2b${cost:02d}$" + "a" * 53
