"""Sign-in under attack: lockouts (django-axes) and admission control for hashing."""

import io
import ipaddress
import json
import threading
import time
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt
from django.core.wsgi import get_wsgi_application
from django.test import Client, RequestFactory

from accounts import hashers, throttling
from accounts.backends import ThrottleBackend
from accounts.clients import client_ip
from accounts.models import User
from accounts.tests.test_api import CountingHasher
from health.probes import serve_probes
from health.tests.test_probes import call
from tests.test_settings import load_settings

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse 42"
LIMIT = 5


@pytest.fixture(autouse=True)
def counted_hashes(settings):
    settings.PASSWORD_HASHERS = [f"{CountingHasher.__module__}.CountingHasher"]
    settings.AXES_FAILURE_LIMIT = LIMIT
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
        assert locked.json()["error"] == "too many failed sign-ins: try again later"
        assert int(locked["Retry-After"]) > 0
        assert counted_hashes.calls == 0  # refused before the hasher

    def test_username_key__ignores_case(self, user):
        fail(3, username="\\UNI\\JSmith", ips=["198.51.100.1", "198.51.100.2"])
        fail(2, username="\\uni\\jsmith", ips=["198.51.100.3"])
        locked = attempt("\\Uni\\JSMITH", PASSWORD, ip="203.0.113.77")
        assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS

    def test_per_address__for_any_username(self, user, counted_hashes):
        for n in range(LIMIT):
            attempt(f"\\uni\\guess{n}", ip="192.0.2.66")
        counted_hashes.calls = 0
        locked = attempt("\\uni\\jsmith", PASSWORD, ip="192.0.2.66")
        assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert counted_hashes.calls == 0
        assert attempt("\\uni\\jsmith", PASSWORD, ip="192.0.2.67").status_code == (
            HTTPStatus.OK
        )

    def test_success__resets_the_count(self, user):
        fail(LIMIT - 1)
        assert attempt("\\uni\\jsmith", PASSWORD).status_code == HTTPStatus.OK
        fail(LIMIT - 1)
        assert attempt("\\uni\\jsmith", PASSWORD).status_code == HTTPStatus.OK

    def test_admin_login__shows_a_clear_page(self, user):
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

    def test_staff__see_and_clear_lockouts_in_the_admin(self, user):
        fail(LIMIT)
        admin = User.objects.create_superuser("\\corp\\root", password="root-pass-1")
        client = Client()
        client.force_login(admin)
        page = client.get("/admin/axes/accessattempt/")
        assert page.status_code == HTTPStatus.OK
        assert "\\UNI\\JSMITH" in page.content.decode()
        client.post(
            "/admin/axes/accessattempt/",
            {
                "action": "delete_selected",
                "_selected_action": [a.pk for a in AccessAttempt.objects.all()],
                "post": "yes",
            },
        )
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

        for n in range(LIMIT):
            behind_proxy("203.0.113.5", n)
        assert behind_proxy("203.0.113.5", 99).status_code == 429
        assert behind_proxy("203.0.113.6", 98).status_code == (HTTPStatus.UNAUTHORIZED)


class TestAdmissionControl:
    @pytest.fixture
    def saturated(self, settings):
        """Hold every hashing slot of this process, as a flood would."""
        settings.SIGNIN_HASH_WAIT = 0.2
        settings.PASSWORD_HASHERS = [
            "accounts.hashers.BoundedBCryptSHA256PasswordHasher"
        ]
        hashers._slots = hashers.Slots(1)
        assert hashers._slots.acquire(wait=False, timeout=0)
        yield
        hashers._slots.release()
        hashers._slots = None

    @pytest.mark.parametrize(
        ("threads", "slots"), [("3", 1), ("5", 3), ("2", 1), ("1", 1)]
    )
    def test_slots__are_two_fewer_than_threads(self, monkeypatch, threads, slots):
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


def seated(slots, *, wait, strong=True):
    """Start a thread waiting for a slot of `slots`; return it and its result list."""
    got = []
    waiter = threading.Thread(
        target=lambda: got.append(slots.acquire(wait=wait, timeout=5, strong=strong))
    )
    before = slots._seated
    waiter.start()
    while slots._seated is before:
        time.sleep(0.001)
    return waiter, got


class TestSlots:
    def test_free_slot__is_taken_without_waiting(self):
        slots = hashers.Slots(1)
        assert slots.acquire(wait=False, timeout=0)
        assert not slots.crowded()

    def test_waiting__times_out(self):
        slots = hashers.Slots(1)
        slots.acquire(wait=False, timeout=0)
        assert not slots.acquire(wait=True, timeout=0.05)
        assert slots._seated is None

    def test_guesser__sits_when_the_seat_is_empty_and_gets_the_next_slot(self):
        slots = hashers.Slots(1)
        slots.acquire(wait=False, timeout=0)
        waiter, got = seated(slots, wait=False)
        assert slots.crowded()
        # Another guesser finds the seat taken: no slot, at once.
        started = time.monotonic()
        assert not slots.acquire(wait=False, timeout=5)
        assert time.monotonic() - started < 0.5
        slots.release()
        waiter.join()
        assert got == [True]
        assert not slots.crowded()

    def test_who_may_wait__takes_the_seat_from_a_guesser(self):
        slots = hashers.Slots(1)
        slots.acquire(wait=False, timeout=0)
        guesser, guessed = seated(slots, wait=False)
        person, signed_in = seated(slots, wait=True)
        guesser.join(timeout=1)
        assert guessed == [False]  # turned away, not left to time out
        slots.release()
        person.join()
        assert signed_in == [True]

    def test_just_refused__takes_the_seat_from_a_guesser_only(self):
        slots = hashers.Slots(1)
        slots.acquire(wait=False, timeout=0)
        guesser, guessed = seated(slots, wait=False)
        refused, refused_got = seated(slots, wait=True, strong=False)
        guesser.join(timeout=1)
        assert guessed == [False]
        person, person_got = seated(slots, wait=True)
        refused.join(timeout=1)
        assert refused_got == [False]  # a person takes it from the refused one
        started = time.monotonic()
        assert not slots.acquire(wait=True, timeout=5, strong=False)
        assert time.monotonic() - started < 0.5  # ...who cannot take it back
        slots.release()
        person.join()
        assert person_got == [True]

    def test_a_freed_slot__goes_to_who_sits_not_to_a_newcomer(self):
        slots = hashers.Slots(1)
        slots.acquire(wait=False, timeout=0)
        waiter, got = seated(slots, wait=True)
        with slots._changed:  # freed, before the seated thread can take it
            slots._free += 1
            assert not slots.acquire(wait=False, timeout=0)
            slots._changed.notify_all()
        waiter.join()
        assert got == [True]

    def test_recent_failures__make_an_address_a_guesser(self, user, settings):
        settings.PASSWORD_HASHERS = [
            "accounts.hashers.BoundedBCryptSHA256PasswordHasher"
        ]
        settings.SIGNIN_HASH_WAIT = 2
        slots = hashers._slots = hashers.Slots(1)
        slots.acquire(wait=False, timeout=0)
        guesser, turned_away = seated(slots, wait=False)
        try:
            # A clean address may wait: it takes the seat and gets the next slot.
            threading.Timer(0.3, slots.release).start()
            assert attempt("\\uni\\nobody", ip="192.0.2.1").status_code == (
                HTTPStatus.UNAUTHORIZED
            )
            assert turned_away == [False]
            assert "192.0.2.1" in throttling.guessers
            # Failed once, it may not wait: with the slot taken and the seat too,
            # no slot for it, at once.
            slots.acquire(wait=False, timeout=0)
            guesser, _ = seated(slots, wait=False)
            started = time.monotonic()
            assert attempt("\\uni\\nobody", ip="192.0.2.1").status_code == (
                HTTPStatus.SERVICE_UNAVAILABLE
            )
            assert time.monotonic() - started < 1
            slots.release()
            guesser.join()
            slots.release()
        finally:
            hashers._slots = None

    @pytest.mark.parametrize("lately", [True, False])
    def test_refused_lately__may_not_take_the_seat_from_a_person(self, user, lately):
        request = RequestFactory().post("/api/auth/login", REMOTE_ADDR="192.0.2.3")
        request.META[throttling.REFUSED_LATELY] = lately
        ThrottleBackend().authenticate(request, "\\uni\\jsmith", PASSWORD)
        assert hashers.strong.get() is not lately
        assert hashers.may_wait.get() is True
        hashers.strong.set(True)

    def test_a_failure_at_another_worker__counts_here_too(self, user):
        AccessAttempt.objects.create(
            ip_address="192.0.2.9", username="X", failures_since_start=1
        )
        request = RequestFactory().post("/api/auth/login", REMOTE_ADDR="192.0.2.9")
        ThrottleBackend().authenticate(request, "\\uni\\jsmith", PASSWORD)
        assert hashers.may_wait.get() is False
        assert "192.0.2.9" in throttling.guessers


def post(application, path="/api/auth/login", address="192.0.2.7", username=None):
    """Call a WSGI `application` with a sign-in POST; return (status, headers, body)."""
    body = json.dumps({"username": username, "password": "x"}).encode()
    return call(
        application,
        "POST",
        path,
        REMOTE_ADDR=address,
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH=str(len(body)),
        **{"wsgi.input": io.BytesIO(body)},
    )


class Django:
    """Stands for Django behind the door: answers 401, counts its calls."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls = 0
        self.gate = gate

    def __call__(self, environ, start_response):
        self.calls += 1
        self.body = environ["wsgi.input"].read()
        if self.gate is not None:
            self.gate.wait(5)
        start_response("401 Unauthorized", [])
        return [b""]


class TestDoor:
    @pytest.fixture
    def crowded(self):
        """Every slot taken and a guesser seated, as in a flood."""
        slots = hashers._slots = hashers.Slots(1)
        slots.acquire(wait=False, timeout=0)
        waiter, _ = seated(slots, wait=False)
        yield
        slots.release()
        waiter.join()
        slots.release()
        hashers._slots = None

    @pytest.mark.parametrize(
        ("path", "kind", "body"),
        [
            (
                "/api/auth/login",
                "application/json",
                b'{"error": "sign-in is busy: try again shortly"}',
            ),
            (
                "/admin/login/",
                "text/plain; charset=utf-8",
                b"sign-in is busy: try again shortly.\n",
            ),
        ],
    )
    def test_known_guesser_while_crowded__gets_503_before_django(
        self, crowded, path, kind, body
    ):
        throttling.guessers.add("192.0.2.7")
        django = Django()
        status, headers, answer = post(throttling.turn_away_early(django), path)
        assert (status, headers["Retry-After"], headers["Content-Type"]) == (
            HTTPStatus.SERVICE_UNAVAILABLE,
            "1",
            kind,
        )
        assert answer == body
        assert django.calls == 0

    def test_others__go_on_to_django(self, crowded):
        throttling.guessers.add("192.0.2.7")
        django = Django()
        door = throttling.turn_away_early(django)
        assert post(door, address="192.0.2.8")[0] == HTTPStatus.UNAUTHORIZED
        assert post(door, path="/admin/")[0] == HTTPStatus.UNAUTHORIZED
        assert django.calls == 2

    def test_not_crowded__a_guesser_goes_on_to_django(self):
        throttling.guessers.add("192.0.2.7")
        hashers._slots = hashers.Slots(1)
        try:
            assert post(throttling.turn_away_early(Django()))[0] == 401
        finally:
            hashers._slots = None

    def test_two_sign_ins_at_once__make_the_address_a_guesser(self):
        gate = threading.Event()
        door = throttling.turn_away_early(Django(gate))
        threads = [threading.Thread(target=post, args=(door,)) for _ in range(2)]
        for n, thread in enumerate(threads, start=1):
            thread.start()
            while throttling.in_flight._count.get("192.0.2.7") != n:
                time.sleep(0.001)
            # The first alone is no guess; the second, sent meanwhile, is.
            assert ("192.0.2.7" in throttling.guessers) is (n == 2)
        gate.set()
        for thread in threads:
            thread.join()
        assert throttling.in_flight._count == {}

    def test_a_503__marks_the_address_refused_for_its_next_sign_in(self):
        seen = []

        def django(environ, start_response):
            seen.append(environ[throttling.REFUSED_LATELY])
            busy = environ["REMOTE_ADDR"] == "192.0.2.20"
            start_response("503 Service Unavailable" if busy else "401 No", [])
            return [b""]

        door = throttling.turn_away_early(django)
        for address in ("192.0.2.20", "192.0.2.20", "192.0.2.21", "192.0.2.21"):
            time.sleep(0.6)  # no quick repeat: no guesser
            post(door, address=address)
        assert seen == [False, True, False, False]

    def test_two_sign_ins_in_quick_succession__make_the_address_a_guesser(self):
        door = throttling.turn_away_early(Django())
        post(door, address="192.0.2.8")
        assert "192.0.2.8" not in throttling.guessers
        post(door, address="192.0.2.8")  # at once after the first ended
        assert "192.0.2.8" in throttling.guessers

    def test_sign_ins_a_person_apart__are_no_guess(self, monkeypatch):
        door = throttling.turn_away_early(Django())
        monkeypatch.setattr(throttling.InFlight, "RECENT", 0.05)
        post(door, address="192.0.2.9")
        time.sleep(0.1)
        post(door, address="192.0.2.9")
        assert "192.0.2.9" not in throttling.guessers


class TestLockedOutAtTheDoor:
    @pytest.mark.parametrize("path", ["/api/auth/login", "/admin/login/"])
    def test_locked_out_username__gets_429_before_django(self, user, path):
        fail(LIMIT, ips=[f"198.51.100.{n}" for n in range(1, LIMIT + 1)])
        django = Django()
        door = throttling.turn_away_early(django)
        status, headers, _ = post(
            door, path, address="203.0.113.9", username="\\UNI\\JSmith"
        )
        assert status == HTTPStatus.TOO_MANY_REQUESTS
        assert int(headers["Retry-After"]) > 0
        assert django.calls == 0
        # As Django answers it: the same page.
        expected = attempt("\\uni\\jsmith", ip="203.0.113.10")
        assert expected.status_code == HTTPStatus.TOO_MANY_REQUESTS
        if path.startswith("/api/"):
            assert json.loads(post(door, path, username="\\uni\\jsmith")[2]) == (
                expected.json()
            )

    def test_locked_out_address__gets_429_before_django(self, user):
        fail(LIMIT, username="\\uni\\someone", ips=["192.0.2.66"])
        django = Django()
        door = throttling.turn_away_early(django)
        assert post(door, address="192.0.2.66", username="\\uni\\jsmith")[0] == (
            HTTPStatus.TOO_MANY_REQUESTS
        )
        assert django.calls == 0

    def test_cleared_or_never_locked__go_on_with_the_body_intact(self, user):
        fail(LIMIT, ips=["192.0.2.67"])
        AccessAttempt.objects.all().delete()  # staff clear the lockouts
        django = Django()
        door = throttling.turn_away_early(django)
        assert post(door, address="192.0.2.67", username="\\uni\\jsmith")[0] == (
            HTTPStatus.UNAUTHORIZED
        )
        assert json.loads(django.body)["username"] == "\\uni\\jsmith"


class TestGuessers:
    def test_failed_sign_in__makes_a_guesser_and_success_forgets_it(self, user):
        attempt("\\uni\\jsmith", ip="192.0.2.44")
        assert "192.0.2.44" in throttling.guessers
        assert attempt("\\uni\\jsmith", PASSWORD, ip="192.0.2.44").status_code == 200
        assert "192.0.2.44" not in throttling.guessers

    def test_forgotten_after_the_cool_off(self, settings):
        throttling.guessers.add("192.0.2.1")
        settings.SIGNIN_COOLOFF_SECONDS = 0
        assert "192.0.2.1" not in throttling.guessers

    def test_refused__forgotten_after_its_own_seconds(self):
        refused = throttling.Guessers(seconds=0.05)
        refused.add("192.0.2.1")
        assert "192.0.2.1" in refused
        time.sleep(0.1)
        assert "192.0.2.1" not in refused

    def test_bounded__the_oldest_forgotten_first(self):
        guessers = throttling.Guessers(size=2)
        for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
            guessers.add(address)
        assert "192.0.2.1" not in guessers
        assert "192.0.2.2" in guessers
        assert "192.0.2.3" in guessers
