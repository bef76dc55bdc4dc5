"""Directory sign-in against a real Active Directory: Samba's domain controller.

One DC for the module (testsupport.samba); each test points the `uni` domain at it
through the DIRECTORY_* variables, read as the settings read them.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from audit.models import AuthEvent, Kind
from config.directories import directories
from signin import directory as directory_module
from testsupport import samba, slapd

pytestmark = [pytest.mark.directory, pytest.mark.django_db(transaction=True)]
PASSWORD = "Student-Pass-1"
LINCOLN_PASSWORD = "Lincoln-Pass-1"
ADMIN_DN = f"CN=Administrator,CN=Users,{samba.BASE_DN}"


@pytest.fixture(scope="module")
def dc():
    if reason := samba.available():
        pytest.skip(reason)
    server = samba.SambaDC().start()
    try:
        server.add_user(
            "jsmith",
            PASSWORD,
            "--given-name=John",
            "--surname=Smith",
            "--mail-address=jsmith@uni.example.edu",
        )
        server.add_user("asmith", PASSWORD)
        server.add_user("dis", PASSWORD)
        server.tool("user", "disable", "dis")
        server.add_user("mustchange", PASSWORD, "--must-change-at-next-login")
        server.add_user("mcounsel", PASSWORD)
        server.add_user("renamed", PASSWORD)
        server.add_user("lockme", PASSWORD)
        for group in ("Students", "Counselors", "Counseling staff"):
            server.tool("group", "add", group)
        server.tool("group", "addmembers", "Students", "jsmith,asmith")
        server.tool("group", "addmembers", "Counselors", "mcounsel")
        # Nested: Counselors are in "Counseling staff", the staff group.
        server.tool("group", "addmembers", "Counseling staff", "Counselors")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def lincoln_ldap():
    if reason := slapd.available():
        pytest.skip(reason)
    server = slapd.Slapd().start()
    try:
        server.add_user("jsmith", LINCOLN_PASSWORD, "Jane Smith")
        server.add_user("mnash", LINCOLN_PASSWORD, "Mary Nash")
        server.add_group("Lincoln counselors", "mnash")
        server.add_group("Lincoln staff")
        # Nested: the counselors' group is in the staff group.
        server.ldapmodify(
            f"dn: cn=Lincoln staff,{slapd.SUFFIX}\nchangetype: modify\n"
            f"add: member\nmember: cn=Lincoln counselors,{slapd.SUFFIX}\n\n"
        )
        yield server
    finally:
        server.stop()


@pytest.fixture
def two_domains(settings, monkeypatch, dc, lincoln_ldap):
    """`uni` on Samba's DC, `lincoln` on slapd (ldap:// and StartTLS)."""
    configure(
        settings,
        monkeypatch,
        dc,
        DIRECTORY_DOMAINS="uni,lincoln",
        DIRECTORY_LINCOLN_URL=lincoln_ldap.ldap_uri,
        DIRECTORY_LINCOLN_CA_FILE=lincoln_ldap.cafile,
        DIRECTORY_LINCOLN_BASE_DN=slapd.SUFFIX,
        DIRECTORY_LINCOLN_BIND_DN=lincoln_ldap.root_dn,
        DIRECTORY_LINCOLN_BIND_PASSWORD=lincoln_ldap.root_pw,
        DIRECTORY_LINCOLN_UPN_SUFFIX="lincoln.example.edu",
        DIRECTORY_LINCOLN_STAFF_GROUPS="Lincoln staff",
        DIRECTORY_LINCOLN_GROUPS="Lincoln counselors=Counselors",
        DIRECTORY_LINCOLN_TIMEOUT="1",
    )
    return dc, lincoln_ldap


def configure(settings, monkeypatch, dc, **overrides):
    """Point the `uni` domain at the DC, as DIRECTORY_* variables would."""
    variables = {
        "DIRECTORY_DOMAINS": "uni",
        "DIRECTORY_UNI_URL": dc.url,
        "DIRECTORY_UNI_CA_FILE": str(dc.tls["ca"]),
        "DIRECTORY_UNI_BASE_DN": samba.BASE_DN,
        "DIRECTORY_UNI_BIND_DN": ADMIN_DN,
        "DIRECTORY_UNI_BIND_PASSWORD": samba.ADMIN_PASSWORD,
        "DIRECTORY_UNI_UPN_SUFFIX": "uni.example.edu",
        "DIRECTORY_UNI_STAFF_GROUPS": "Counseling staff",
        "DIRECTORY_UNI_GROUPS": "Students=Students;Counselors=Counselors",
        "DIRECTORY_UNI_TIMEOUT": "1",
        **overrides,
    }
    for name, value in variables.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    found, ldap_settings = directories()
    settings.DIRECTORIES = found
    for name, value in ldap_settings.items():
        setattr(settings, name, value)
    # Each test starts with every server believed up.
    monkeypatch.setattr(directory_module, "servers", directory_module._Servers())


@pytest.fixture
def uni(settings, monkeypatch, dc):
    configure(settings, monkeypatch, dc)
    return dc


def sign_in(username, password=PASSWORD, ip="192.0.2.10"):
    return Client(REMOTE_ADDR=ip).post(
        "/api/auth/login",
        json.dumps({"username": username, "password": password}),
        content_type="application/json",
    )


def last_failure():
    return AuthEvent.objects.filter(kind=Kind.SIGNIN_FAILED).latest("id")


class TestSignIn:
    @pytest.mark.parametrize(
        "typed",
        ["\\uni\\jsmith", "\\UNI\\JSMITH", "UNI\\jsmith", "jsmith@uni.example.edu"],
    )
    def test_a_student_never_seen__signs_in_with_the_ad_password(self, uni, typed):
        response = sign_in(typed)
        assert response.status_code == 200, response.content
        assert response.json()["username"] == "\\uni\\jsmith"
        user = User.objects.get()
        assert user.username == "\\uni\\jsmith"
        assert user.directory_guid is not None
        assert user.display_name == "John Smith"
        assert user.email == "jsmith@uni.example.edu"
        assert not user.has_usable_password()
        assert [g.name for g in user.groups.all()] == ["Students"]
        assert not user.is_staff

    def test_each_name_form__is_one_user(self, uni):
        ids = {
            sign_in(form).json()["id"]
            for form in ("\\uni\\jsmith", "UNI\\jsmith", "jsmith@uni.example.edu")
        }
        assert len(ids) == 1
        assert User.objects.count() == 1

    def test_an_imported_student__is_adopted_and_loses_the_local_password(self, uni):
        imported = User.objects.create_user("\\UNI\\asmith", password="local pass 1")
        assert sign_in("\\uni\\asmith").status_code == 200
        imported.refresh_from_db()
        assert imported.directory_guid is not None
        assert not imported.has_usable_password()
        assert sign_in("\\uni\\asmith", "local pass 1").status_code == 401

    def test_nested_staff_group__makes_staff_and_its_django_group(self, uni):
        assert sign_in("\\uni\\mcounsel").status_code == 200
        user = User.objects.get(username="\\uni\\mcounsel")
        assert user.is_staff
        assert set(user.groups.values_list("name", flat=True)) == {"Counselors"}

    def test_a_group_left_in_the_directory__is_left_here(self, uni):
        user = User.objects.create_user("\\uni\\jsmith")
        user.groups.add(Group.objects.create(name="Counselors"))
        user.groups.add(Group.objects.create(name="Local only"))
        assert sign_in("\\uni\\jsmith").status_code == 200
        assert set(user.groups.values_list("name", flat=True)) == {
            "Students",
            "Local only",
        }

    def test_a_rename_in_the_directory__keeps_the_user(self, uni):
        first = sign_in("\\uni\\renamed").json()["id"]
        uni.tool("user", "rename", "renamed", "--samaccountname=renamed2")
        try:
            response = sign_in("\\uni\\renamed2")
            assert response.status_code == 200, response.content
            assert response.json()["id"] == first
            assert User.objects.get(pk=first).username == "\\uni\\renamed2"
        finally:
            uni.tool("user", "rename", "renamed2", "--samaccountname=renamed")

    def test_the_admin__signs_staff_in_with_the_ad_password(self, uni):
        client = Client()
        response = client.post(
            "/admin/login/?next=/admin/",
            {"username": "UNI\\mcounsel", "password": PASSWORD},
        )
        assert response.status_code == 302, response.content
        assert client.get("/admin/").status_code == 200

    @pytest.mark.mfa
    def test_staff_from_the_directory__still_need_the_second_factor(self, uni):
        answer = sign_in("UNI\\mcounsel")
        assert answer.status_code == 401
        assert answer.json()["error"] == "second factor enrolment required"
        client = Client()
        client.post(
            "/admin/login/?next=/admin/",
            {"username": "UNI\\mcounsel", "password": PASSWORD},
        )
        page = client.get("/admin/", follow=True)
        assert page.redirect_chain[-1][0].startswith("/admin/second-factor/setup/")

    def test_the_admin__shows_that_the_directory_signs_them_in(self, uni):
        student = User.objects.get(pk=sign_in("\\uni\\jsmith").json()["id"])
        local = User.objects.create_user("\\lincoln\\kim", password="local pass 1")
        admin = User.objects.create_superuser("\\lincoln\\admin", password="x")
        client = Client()
        client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
        page = client.get(f"/admin/accounts/user/{student.pk}/change/").content
        assert b"the password of the uni directory" in page
        page = client.get(f"/admin/accounts/user/{local.pk}/change/").content
        assert b"a local password" in page

    def test_without_a_service_account__the_users_own_bind_finds_the_entry(
        self, settings, monkeypatch, dc
    ):
        configure(
            settings,
            monkeypatch,
            dc,
            DIRECTORY_UNI_BIND_DN=None,
            DIRECTORY_UNI_BIND_PASSWORD=None,
        )
        assert sign_in("jsmith@uni.example.edu").status_code == 200
        assert sign_in("\\uni\\jsmith", "wrong").status_code == 401
        assert last_failure().detail["code"] == "52e"


class TestRefusals:
    @pytest.mark.parametrize(
        ("name", "password", "reason"),
        [
            ("\\uni\\jsmith", "wrong password", "wrong password"),
            ("\\uni\\nobody", PASSWORD, "no such user"),
            ("\\uni\\*", PASSWORD, "no such user"),
            ("\\uni\\j*)(sAMAccountName=*", PASSWORD, "no such user"),
            ("\\uni\\j)(|(cn=*", PASSWORD, "no such user"),
            # Disabled: the default filter finds only enabled accounts.
            ("\\uni\\dis", PASSWORD, "no such user"),
        ],
    )
    def test_the_one_401__and_the_reason_in_the_trail(
        self, uni, name, password, reason
    ):
        response = sign_in(name, password)
        assert response.status_code == 401
        assert response.json() == {"error": "invalid credentials"}
        assert last_failure().detail["reason"] == reason
        assert not User.objects.exists()

    @pytest.mark.parametrize(("name", "code"), [("dis", "533"), ("mustchange", "773")])
    def test_ad_codes__recorded(self, settings, monkeypatch, dc, name, code):
        # A filter that lets disabled accounts reach the bind, and AD's answer.
        configure(
            settings,
            monkeypatch,
            dc,
            DIRECTORY_UNI_USER_FILTER="(&(objectCategory=person)(objectClass=user))",
        )
        assert sign_in(f"\\uni\\{name}").status_code == 401
        failure = last_failure()
        assert failure.detail["code"] == code
        assert failure.username == f"\\uni\\{name}"

    def test_locked_in_ad__775_recorded(self, uni):
        uni.tool("domain", "passwordsettings", "set", "--account-lockout-threshold=3")
        try:
            for _ in range(3):
                assert sign_in("\\uni\\lockme", "wrong").status_code == 401
            # The right password now: AD says locked, the client the one 401.
            assert sign_in("\\uni\\lockme", ip="192.0.2.99").status_code == 401
            assert last_failure().detail["code"] == "775"
        finally:
            uni.tool(
                "domain", "passwordsettings", "set", "--account-lockout-threshold=0"
            )

    def test_a_blocked_user__is_refused(self, uni):
        sign_in("\\uni\\jsmith")
        User.objects.update(is_blocked=True)
        assert sign_in("\\uni\\jsmith").status_code == 401
        assert last_failure().detail["reason"] == "blocked"

    def test_a_local_domain__keeps_local_passwords(self, uni):
        User.objects.create_user("\\lincoln\\jsmith", password="local pass 1")
        assert sign_in("\\lincoln\\jsmith", "local pass 1").status_code == 200
        assert sign_in("lincoln\\jsmith", "local pass 1").status_code == 200
        assert sign_in("\\lincoln\\jsmith", PASSWORD).status_code == 401

    def test_a_wrong_ca__is_refused(self, settings, monkeypatch, dc, tmp_path):
        other = samba.make_ca(tmp_path / "other", "Another CA")
        configure(settings, monkeypatch, dc, DIRECTORY_UNI_CA_FILE=str(other["ca"]))
        assert sign_in("\\uni\\jsmith").status_code == 503
        assert not User.objects.exists()


class TestOutages:
    def test_the_lockout__runs_before_the_directory(self, uni, settings):
        for _ in range(settings.SIGNIN_FAILURE_LIMIT - 1):
            assert sign_in("\\uni\\jsmith", "wrong").status_code == 401
        assert sign_in("\\uni\\jsmith", "wrong").status_code == 429
        uni.freeze()
        try:
            started = time.monotonic()
            # Locked, in every form of the name: refused without a bind (the
            # frozen DC would hold a bind for the timeout, then 503).
            for form in ("\\uni\\jsmith", "UNI\\jsmith", "jsmith@uni.example.edu"):
                assert sign_in(form).status_code == 429
            assert time.monotonic() - started < 1
        finally:
            uni.thaw()

    def test_a_frozen_directory__503_within_the_deadline_and_locals_unaffected(
        self, uni
    ):
        User.objects.create_user("\\lincoln\\local", password="local pass 1")
        uni.freeze()
        try:
            started = time.monotonic()
            response = sign_in("\\uni\\jsmith")
            waited = time.monotonic() - started
            assert response.status_code == 503
            assert response.json()["error"].startswith("the school's directory")
            assert waited < 5  # DIRECTORY_UNI_TIMEOUT is 1 s a stage
            # The failed server is skipped now: at once, and recorded once.
            assert sign_in("\\uni\\jsmith").status_code == 503
            assert sign_in("\\lincoln\\local", "local pass 1").status_code == 200
        finally:
            uni.thaw()
        outages = AuthEvent.objects.filter(kind=Kind.DIRECTORY_UNAVAILABLE)
        assert outages.count() == 1
        assert outages.get().detail["domain"] == "uni"
        # No failure counted against the student for the outage.
        assert not AuthEvent.objects.filter(kind=Kind.SIGNIN_FAILED).exists()

    def test_failover__to_the_next_url(self, settings, monkeypatch, dc):
        # The first server refuses connections; the second is the DC.
        configure(
            settings,
            monkeypatch,
            dc,
            DIRECTORY_UNI_URL=f"ldaps://127.0.0.1:1 {dc.url}",
        )
        assert sign_in("\\uni\\jsmith").status_code == 200

    def test_a_malformed_name__is_refused_before_any_network_call(self, uni):
        uni.freeze()
        try:
            for name in ("\\uni\\" + "a" * 65, "\\uni\\a\u200bb"):
                assert sign_in(name).status_code == 401
            assert last_failure().detail["reason"] == "malformed name"
        finally:
            uni.thaw()


class TestTwoDirectories:
    def test_one_name_in_two_domains__two_users_each_its_own_directory(
        self, two_domains
    ):
        uni = sign_in("\\uni\\jsmith").json()
        lincoln = sign_in("\\lincoln\\jsmith", LINCOLN_PASSWORD).json()
        assert uni["id"] != lincoln["id"]
        assert User.objects.get(pk=lincoln["id"]).display_name == "Jane Smith"
        # Each domain asks only its own directory.
        assert sign_in("\\lincoln\\jsmith", PASSWORD).status_code == 401
        assert sign_in("\\uni\\jsmith", LINCOLN_PASSWORD).status_code == 401
        upn = sign_in("jsmith@lincoln.example.edu", LINCOLN_PASSWORD)
        assert upn.json()["id"] == lincoln["id"]

    def test_nested_groups_over_starttls(self, two_domains):
        assert sign_in("LINCOLN\\mnash", LINCOLN_PASSWORD).status_code == 200
        user = User.objects.get(username="\\lincoln\\mnash")
        assert user.is_staff
        assert set(user.groups.values_list("name", flat=True)) == {"Counselors"}

    def test_several_entries_for_one_name__refused_and_logged(
        self, two_domains, caplog
    ):
        _, lincoln = two_domains
        lincoln.add_user("twice", LINCOLN_PASSWORD)
        lincoln.ldapadd(
            f"dn: cn=twice-again,{slapd.SUFFIX}\nobjectClass: user\n"
            "cn: twice-again\nsn: again\nsAMAccountName: twice\n"
            "objectCategory: person\nuserAccountControl: 512\n"
            f"userPassword: {LINCOLN_PASSWORD}\n\n"
        )
        assert sign_in("\\lincoln\\twice", LINCOLN_PASSWORD).status_code == 401
        assert last_failure().detail["reason"] == "several entries for the name"
        assert "has 2 entries for one name" in caplog.text
        assert not User.objects.exists()

    def test_a_frozen_domain__leaves_the_other_signing_in(self, two_domains):
        dc, _ = two_domains
        dc.freeze()
        try:
            assert sign_in("\\uni\\jsmith").status_code == 503
            lincoln = sign_in("\\lincoln\\jsmith", LINCOLN_PASSWORD)
            assert lincoln.status_code == 200
        finally:
            dc.thaw()


class TestSettings:
    def test_a_mistake__is_one_line_naming_the_variable(self, monkeypatch, dc):
        from django.core.exceptions import ImproperlyConfigured

        monkeypatch.setenv("DIRECTORY_DOMAINS", "uni")
        monkeypatch.setenv("DIRECTORY_UNI_URL", "http://dc.uni.example.edu")
        with pytest.raises(ImproperlyConfigured, match=r"^DIRECTORY_UNI_URL "):
            directories()
        monkeypatch.setenv("DIRECTORY_UNI_URL", dc.url)
        monkeypatch.setenv("DIRECTORY_UNI_CA_FILE", "/nonexistent/ca.pem")
        with pytest.raises(ImproperlyConfigured, match=r"^DIRECTORY_UNI_CA_FILE "):
            directories()

    def test_a_limit_not_below_the_directorys_lockout__warns(
        self, settings, monkeypatch, dc
    ):
        from django.core.management import call_command

        configure(settings, monkeypatch, dc, DIRECTORY_UNI_LOCKOUT_THRESHOLD="5")
        settings.SIGNIN_FAILURE_LIMIT = 5
        from signin.checks import lockout_below_directory_lockout

        (warning,) = lockout_below_directory_lockout()
        assert warning.id == "signin.W001"
        assert "DIRECTORY_UNI_LOCKOUT_THRESHOLD" in warning.msg
        settings.SIGNIN_FAILURE_LIMIT = 4
        assert lockout_below_directory_lockout() == []
        call_command("check")  # a warning does not stop start-up


@pytest.mark.directory
class TestRosterSync:
    """sync_directory against the DC, as its directory changes along a school
    year: in an OU of its own, so that the sign-in tests' users stay out."""

    OU = f"OU=Roster,{samba.BASE_DN}"

    @pytest.fixture
    def roster(self, settings, monkeypatch, dc):
        if "Roster" not in dc.tool("ou", "list"):
            dc.tool("ou", "add", self.OU)
            for name in ("ada", "bob", "cyd", "dee", "eve"):
                dc.add_user(name, PASSWORD, f"--userou={self.OU.split(',')[0]}")
            for group in ("Roster counselors", "Roster staff"):
                dc.tool("group", "add", group, f"--groupou={self.OU.split(',')[0]}")
            dc.tool("group", "addmembers", "Roster counselors", "ada")
            dc.tool("group", "addmembers", "Roster staff", "Roster counselors")
        configure(
            settings,
            monkeypatch,
            dc,
            DIRECTORY_UNI_BASE_DN=self.OU,
            DIRECTORY_UNI_STAFF_GROUPS="Roster staff",
            DIRECTORY_UNI_GROUPS="Roster counselors=Counselors",
            DIRECTORY_UNI_MAX_BLOCK_SHARE="50%",
        )
        return dc

    def sync(self) -> dict:
        out = io.StringIO()
        call_command("sync_directory", "--format", "json", stdout=out)
        return json.loads(out.getvalue())["domains"]["uni"]

    def test_a_school_year(self, roster):
        assert self.sync()["created"] == 5
        ada = User.objects.get(username="\\uni\\ada")
        assert ada.is_staff  # Roster counselors is in Roster staff: nested
        assert list(ada.groups.values_list("name", flat=True)) == ["Counselors"]
        assert self.sync()["unchanged"] == 5

        bob = User.objects.get(username="\\uni\\bob")
        roster.tool("user", "disable", "bob")
        roster.tool("user", "rename", "cyd", "--samaccountname=cyd2")
        roster.tool("user", "delete", "dee")
        changed = self.sync()
        assert (changed["blocked"], changed["updated"]) == (2, 1)
        assert User.objects.get(pk=bob.pk).is_blocked
        assert User.objects.filter(username="\\uni\\cyd2", is_blocked=False).exists()
        assert User.objects.get(username="\\uni\\dee").is_blocked

        roster.tool("user", "enable", "bob")
        assert self.sync()["unblocked"] == 1
        assert not User.objects.get(pk=bob.pk).is_blocked
