"""The admin's user pages, through Django's test client."""

import re
from http import HTTPStatus

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.utils import translation

from accounts.models import Session, User

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/accounts/user/"


@pytest.fixture
def students(db):
    return [
        User.objects.create_user("\\uni\\jsmith", password="pw-12345678"),
        User.objects.create_user("\\uni\\adoe", password="pw-12345678"),
        User.objects.create_user("\\lab\\kim", password="pw-12345678", is_staff=True),
    ]


def usernames(response):
    return sorted(str(u) for u in response.context["cl"].result_list)


class TestChangelist:
    def test_lists_users_with_their_columns(self, admin_client, students):
        response = admin_client.get(CHANGELIST)
        assert response.status_code == HTTPStatus.OK
        assert response.context["cl"].list_display == [
            "action_checkbox",
            "login",
            "display_name",
            "can_sign_in",
            "last_signed_in",
            "created",
        ]
        assert usernames(response) == [
            "\\corp\\root",
            "\\lab\\kim",
            "\\uni\\adoe",
            "\\uni\\jsmith",
        ]

    NATURAL = [
        "\\uni\\adavis",
        "\\uni\\adavis2",
        "\\uni\\adavis10",
        "\\uni\\adavis010",
        "\\uni\\adavis100",
        "\\uni\\adavisb",
        "\\uni\\adavisb2",
    ]

    def test_names_with_numbers__in_natural_order_both_ways(self, admin_client, db):
        for name in sorted(self.NATURAL):
            User.objects.create_user(name, password="pw-12345678")

        def listed(**query):
            response = admin_client.get(CHANGELIST, {"q": "adavis", **query})
            return [str(u) for u in response.context["cl"].result_list]

        assert listed() == self.NATURAL
        # The column's header sorts the same way, either way.
        assert listed(o="1") == self.NATURAL
        assert listed(o="-1") == self.NATURAL[::-1]

    def test_natural_order__is_postgresqls_own(self, db):
        """The order is username_sort_key's, in raw SQL too: a report in psql
        gets it with ORDER BY username_sort_key(username)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name FROM unnest(%s::text[]) AS name "
                "ORDER BY username_sort_key(name)",
                [sorted(self.NATURAL)],
            )
            assert [row[0] for row in cursor.fetchall()] == self.NATURAL

    def test_can_sign_in__says_why_not_with_a_warning(self, admin_client, students):
        User.objects.filter(username="\\uni\\adoe").update(is_blocked=True)
        User.objects.filter(username="\\lab\\kim").update(password="!")
        page = admin_client.get(CHANGELIST).content.decode()
        rows = {
            name: page.split(name, 1)[1].split("</tr>", 1)[0]
            for name in ("\\uni\\adoe", "\\lab\\kim", "\\uni\\jsmith")
        }
        assert "icon-alert" in rows["\\uni\\adoe"]
        assert "No: blocked" in rows["\\uni\\adoe"]
        assert "No: no password" in rows["\\lab\\kim"]
        assert "icon-yes" in rows["\\uni\\jsmith"]
        assert "icon-yes" not in rows["\\uni\\adoe"]

    def test_search__ignores_case_and_accents(self, admin_client, db):
        for name in ("\\uni\\müller", "\\uni\\MÜLLER2", "\\uni\\muller3"):
            User.objects.create_user(name, password="pw-12345678")
        User.objects.create_user(
            "\\uni\\jdoe", password="pw-12345678", display_name="Jürgen Müller"
        )
        User.objects.create_user("\\uni\\miller", password="pw-12345678")
        for term in ("MULLER", "muller", "Müller", "ÜLLER"):
            found = usernames(admin_client.get(CHANGELIST, {"q": term}))
            expected = ["\\uni\\MÜLLER2", "\\uni\\muller3", "\\uni\\müller"]
            expected.append("\\uni\\jdoe")  # by the display name
            assert found == sorted(expected), term
        # A whole name is found as typed, in any case.
        found = usernames(admin_client.get(CHANGELIST, {"q": "\\UNI\\MÜLLER"}))
        assert found == ["\\uni\\MÜLLER2", "\\uni\\müller"]

    def test_search__ignores_case(self, admin_client, students):
        response = admin_client.get(CHANGELIST, {"q": "JSMITH"})
        assert usernames(response) == ["\\uni\\jsmith"]

    def test_search__finds_the_display_name(self, admin_client, students):
        User.objects.filter(username="\\uni\\adoe").update(display_name="Anna Doe")
        response = admin_client.get(CHANGELIST, {"q": "anna d"})
        assert usernames(response) == ["\\uni\\adoe"]
        assert "Anna Doe" in response.content.decode()

    def test_lookalike_approvals__listed_read_only(self, admin_client, students):
        from accounts.models import LookalikeApproval

        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO lookalike_approvals (username, looks_like) "
                "VALUES ('\\uni\\adoe2', '\\uni\\adoe')"
            )
        page = admin_client.get("/admin/accounts/lookalikeapproval/")
        assert page.status_code == HTTPStatus.OK
        assert "\\uni\\adoe2" in page.content.decode()
        approval = LookalikeApproval.objects.get()
        change = f"/admin/accounts/lookalikeapproval/{approval.pk}/delete/"
        assert admin_client.post(change, {"post": "yes"}).status_code == 403
        assert LookalikeApproval.objects.exists()

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"is_blocked__exact": "1"}, ["\\uni\\adoe"]),
            ({"is_staff__exact": "1"}, ["\\corp\\root", "\\lab\\kim"]),
        ],
    )
    def test_filters__by_blocked_and_staff(
        self, admin_client, students, query, expected
    ):
        User.objects.filter(username="\\uni\\adoe").update(is_blocked=True)
        assert usernames(admin_client.get(CHANGELIST, query)) == expected

    @pytest.mark.parametrize(
        ("action", "blocked"), [("block", True), ("unblock", False)]
    )
    def test_bulk_actions__block_and_unblock(
        self, admin_client, students, action, blocked
    ):
        User.objects.filter(is_superuser=False).update(is_blocked=not blocked)
        chosen = [str(students[0].pk), str(students[1].pk)]
        response = admin_client.post(
            CHANGELIST, {"action": action, "_selected_action": chosen}, follow=True
        )
        assert response.status_code == HTTPStatus.OK
        assert sorted(
            User.objects.filter(is_blocked=blocked, is_superuser=False).values_list(
                "username", flat=True
            )
        ) == ["\\uni\\adoe", "\\uni\\jsmith"]
        assert User.objects.get(username="\\lab\\kim").is_blocked is not blocked


class TestAddForm:
    @staticmethod
    def add(client, username="\\uni\\new", password2="a-long-pass-phrase"):
        return client.post(
            "/admin/accounts/user/add/",
            {
                "username": username,
                "usable_password": "true",
                "password1": "a-long-pass-phrase",
                "password2": password2,
            },
        )

    def test_creates_a_user_with_a_confirmed_password(self, admin_client):
        response = self.add(admin_client)
        assert response.status_code == HTTPStatus.FOUND
        assert User.objects.get(username="\\uni\\new").check_password(
            "a-long-pass-phrase"
        )

    def test_refuses_mismatched_passwords(self, admin_client):
        response = self.add(admin_client, password2="another-pass-phrase")
        assert response.status_code == HTTPStatus.OK
        assert "password2" in response.context["adminform"].form.errors
        assert not User.objects.filter(username="\\uni\\new").exists()

    @pytest.mark.parametrize("username", ["alice", "\\corp＼alice", "\\UNI\\JSMITH"])
    def test_refuses_a_bad_or_taken_username(self, admin_client, students, username):
        response = self.add(admin_client, username=username)
        assert response.status_code == HTTPStatus.OK
        assert "username" in response.context["adminform"].form.errors
        assert User.objects.count() == 4


class TestChangePage:
    def test_shows_read_only_fields_and_the_password_link(self, admin_client, students):
        user = students[0]
        response = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
        assert response.status_code == HTTPStatus.OK
        body = response.content.decode()
        assert 'href="../password/"' in body
        assert user.password not in body  # the hash stays masked
        assert set(response.context["adminform"].readonly_fields) >= {
            "id",
            "created_at",
            "updated_at",
        }

    def test_saves_a_change(self, admin_client, students):
        user = students[0]
        response = admin_client.post(
            f"/admin/accounts/user/{user.pk}/change/",
            {"username": "\\uni\\jsmith2", "is_blocked": "on"},
        )
        assert response.status_code == HTTPStatus.FOUND
        user.refresh_from_db()
        assert (user.username, user.is_blocked) == ("\\uni\\jsmith2", True)

    def test_password_change_page_sets_a_new_password(self, admin_client, students):
        user = students[0]
        response = admin_client.post(
            f"/admin/accounts/user/{user.pk}/password/",
            {
                "usable_password": "true",
                "password1": "brand-new-phrase-9",
                "password2": "brand-new-phrase-9",
            },
        )
        assert response.status_code == HTTPStatus.FOUND
        user.refresh_from_db()
        assert user.check_password("brand-new-phrase-9")


@pytest.fixture
def staff_client(client, students):
    """A staff member, not a superuser, with the given user permissions."""

    def sign_in(*codenames):
        staff = User.objects.create_user(
            "\\corp\\helpdesk", password="staff-pass-1", is_staff=True
        )
        staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
        client.force_login(staff)
        return client

    return sign_in


def act(client, action, users):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(u.pk) for u in users]},
        follow=True,
    )


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


class TestActionPermissions:
    """Blocking is a change: who may do it to whom."""

    def test_view_only_staff__cannot_block_anyone(
        self, staff_client, students, superuser
    ):
        client = staff_client("view_user")
        act(client, "block", [superuser, *students])
        assert not User.objects.filter(is_blocked=True).exists()

    def test_staff_with_change__blocks_students_but_not_a_superuser(
        self, staff_client, students, superuser
    ):
        client = staff_client("view_user", "change_user")
        response = act(client, "block", [superuser, students[0]])
        assert list(User.objects.filter(is_blocked=True)) == [students[0]]
        assert (
            "Only a superuser can block or unblock staff or a superuser."
            in messages_of(response)
        )

    def test_nobody__blocks_themselves(self, admin_client, students):
        me = User.objects.get(username="\\corp\\root")
        response = act(admin_client, "block", [me, students[0]])
        assert list(User.objects.filter(is_blocked=True)) == [students[0]]
        assert "You cannot block yourself." in messages_of(response)

    @pytest.mark.parametrize(
        ("action", "blocked"), [("block", True), ("unblock", False)]
    )
    def test_each_change__is_in_the_admin_history(
        self, admin_client, students, action, blocked
    ):
        User.objects.filter(pk=students[1].pk).update(is_blocked=not blocked)
        User.objects.filter(pk=students[0].pk).update(is_blocked=blocked)
        act(admin_client, action, students[:2])
        entries = LogEntry.objects.filter(action_flag=CHANGE)
        # Only the user whose state changed.
        assert [(e.object_id, e.change_message) for e in entries] == [
            (str(students[1].pk), "Blocked." if blocked else "Unblocked.")
        ]


class TestNonSuperuserStaff:
    def test_cannot_open_a_superusers_change_page(self, staff_client):
        client = staff_client("view_user", "change_user")
        admin = User.objects.create_superuser("\\corp\\root", password="root-pass-1")
        page = client.get(f"/admin/accounts/user/{admin.pk}/change/")
        assert "is_blocked" not in page.context["adminform"].form.fields
        response = client.post(
            f"/admin/accounts/user/{admin.pk}/change/",
            {"username": "\\corp\\root", "is_blocked": "on"},
        )
        assert response.status_code == HTTPStatus.FORBIDDEN
        admin.refresh_from_db()
        assert not admin.is_blocked
        password = client.post(
            f"/admin/accounts/user/{admin.pk}/password/",
            {"password1": "take-over-123", "password2": "take-over-123"},
        )
        assert password.status_code == HTTPStatus.FORBIDDEN

    def test_cannot_grant_superuser_groups_or_permissions(self, staff_client, students):
        client = staff_client("view_user", "change_user")
        student = students[0]
        perm = Permission.objects.get(codename="delete_user")
        response = client.post(
            f"/admin/accounts/user/{student.pk}/change/",
            {
                "username": student.username,
                "is_superuser": "on",
                "is_staff": "on",
                "user_permissions": [perm.pk],
            },
        )
        assert response.status_code == HTTPStatus.FOUND
        student.refresh_from_db()
        assert student.is_staff
        assert not student.is_superuser
        assert not student.user_permissions.exists()


class TestSessionsInTheAdmin:
    @pytest.fixture
    def student_sessions(self, students):
        from accounts.tests.test_sessions import sign_in

        for student in students[:2]:
            student.set_password("correct horse 42")
            student.save()
        for agent in ("laptop/1.0", "phone/2.0"):
            sign_in(Client(HTTP_USER_AGENT=agent))
        sign_in(Client(HTTP_USER_AGENT="other/1.0"), username="\\uni\\adoe")
        return Session.objects.filter(user=students[0])

    def test_change_page__lists_sessions_without_their_keys(
        self, admin_client, students, student_sessions
    ):
        page = admin_client.get(f"/admin/accounts/user/{students[0].pk}/change/")
        body = page.content.decode()
        assert "laptop/1.0" in body
        assert "phone/2.0" in body
        assert "other/1.0" not in body
        for key in Session.objects.values_list("pk", flat=True):
            assert key not in body

    def test_change_page__ends_all_sessions_and_records_it(
        self, admin_client, students, student_sessions
    ):
        student = students[0]
        response = admin_client.post(
            f"/admin/accounts/user/{student.pk}/change/",
            {"username": student.username, "end_sessions": "on"},
        )
        assert response.status_code == HTTPStatus.FOUND
        assert not student_sessions.exists()
        assert Session.objects.filter(user=students[1]).exists()
        entry = LogEntry.objects.get(object_id=str(student.pk))
        assert "End all sessions" in entry.get_change_message()

    def test_bulk_action__ends_all_sessions_of_selected_users(
        self, admin_client, students, student_sessions
    ):
        response = act(admin_client, "end_all_sessions", students[:2])
        assert "Ended 3 sessions of 2 users." in messages_of(response)
        assert not Session.objects.filter(user__in=students).exists()
        assert (
            LogEntry.objects.filter(change_message="Ended all sessions.").count() == 2
        )


class TestEnglishOnly:
    """Django's translation machinery is off: the admin's pages are unchanged."""

    def pages(self, client, user):
        paths = [CHANGELIST, f"{CHANGELIST}{user.pk}/change/", f"{CHANGELIST}add/"]
        return [
            # A new CSRF token and CSP nonce each time.
            re.sub(
                r'name="csrfmiddlewaretoken" value="[^"]+"|nonce="[^"]+"',
                "",
                client.get(path).content.decode(),
            )
            for path in [*paths, "/admin/jsi18n/"]
        ]

    def test_pages__are_the_same_with_translation_on(
        self, admin_client, students, settings
    ):
        assert settings.USE_I18N is False
        off = self.pages(admin_client, students[0])
        settings.USE_I18N = True
        # Django picks its translation functions once; its docstring says to
        # forget them when a test changes USE_I18N.
        translation._trans.__dict__.clear()
        try:
            on = self.pages(admin_client, students[0])
        finally:
            settings.USE_I18N = False
            translation._trans.__dict__.clear()
        assert translation.gettext("Run") == "Run"
        assert on == off
        assert "Select this object for an action - \\uni\\adoe" in off[0]


class TestStaffCannotBecomeEachOther:
    """A non-superuser with every user permission still cannot touch staff."""

    PERMISSIONS = ("view_user", "change_user", "delete_user")

    @pytest.fixture(params=["staff", "superuser"])
    def target(self, request, db):
        from accounts.tests.test_sessions import sign_in

        user = User.objects.create_user(
            "\\corp\\colleague",
            password="colleague pass 1",
            is_staff=True,
            is_superuser=request.param == "superuser",
        )
        sign_in(Client(), "\\corp\\colleague", "colleague pass 1")
        return user

    def unchanged(self, target):
        fresh = User.objects.get(pk=target.pk)
        assert fresh.check_password("colleague pass 1")
        assert not fresh.is_blocked
        assert fresh.sessions.exists()
        assert fresh.username == "\\corp\\colleague"

    def test_change_page__post_is_403(self, staff_client, target):
        client = staff_client(*self.PERMISSIONS)
        response = client.post(
            f"{CHANGELIST}{target.pk}/change/",
            {"username": "\\corp\\renamed", "is_blocked": "on", "is_staff": "on"},
        )
        assert response.status_code == HTTPStatus.FORBIDDEN
        self.unchanged(target)

    @pytest.mark.parametrize("method", ["get", "post"])
    def test_password_page__is_403(self, staff_client, target, method):
        client = staff_client(*self.PERMISSIONS)
        body = {"password1": "take over pass 1", "password2": "take over pass 1"}
        response = getattr(client, method)(
            f"{CHANGELIST}{target.pk}/password/", body if method == "post" else None
        )
        assert response.status_code == HTTPStatus.FORBIDDEN
        self.unchanged(target)

    def test_delete_page__is_403(self, staff_client, target):
        client = staff_client(*self.PERMISSIONS)
        response = client.post(f"{CHANGELIST}{target.pk}/delete/", {"post": "yes"})
        assert response.status_code == HTTPStatus.FORBIDDEN
        self.unchanged(target)

    @pytest.mark.parametrize("action", ["block", "end_all_sessions"])
    def test_actions__leave_them_alone(self, staff_client, target, students, action):
        client = staff_client(*self.PERMISSIONS)
        act(client, action, [target, students[0]])
        self.unchanged(target)

    def test_unblock__leaves_a_blocked_one_blocked(self, staff_client, target):
        User.objects.filter(pk=target.pk).update(is_blocked=True)
        act(staff_client(*self.PERMISSIONS), "unblock", [target])
        assert User.objects.get(pk=target.pk).is_blocked

    def test_delete_selected__deletes_none_of_them(self, staff_client, target):
        client = staff_client(*self.PERMISSIONS)
        client.post(
            CHANGELIST,
            {
                "action": "delete_selected",
                "_selected_action": [str(target.pk)],
                "post": "yes",
            },
        )
        self.unchanged(target)

    def test_students__stay_theirs_to_manage(self, staff_client, students):
        client = staff_client(*self.PERMISSIONS)
        response = client.post(
            f"{CHANGELIST}{students[0].pk}/password/",
            {"password1": "a new pass phrase", "password2": "a new pass phrase"},
        )
        assert response.status_code == HTTPStatus.FOUND
        assert User.objects.get(pk=students[0].pk).check_password("a new pass phrase")

    def test_a_superuser__may_set_a_staff_password(self, admin_client, target):
        response = admin_client.post(
            f"{CHANGELIST}{target.pk}/password/",
            {"password1": "a new pass phrase", "password2": "a new pass phrase"},
        )
        assert response.status_code == HTTPStatus.FOUND
        assert User.objects.get(pk=target.pk).check_password("a new pass phrase")
