"""The admin's user pages, through Django's test client."""

from http import HTTPStatus

import pytest

from accounts.models import User

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/accounts/user/"


@pytest.fixture
def admin_client(client):
    admin = User.objects.create_superuser("\\corp\\admin", password="admin-pass-1")
    client.force_login(admin)
    return client


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
            "username",
            "is_blocked",
            "is_staff",
            "created_at",
            "updated_at",
        ]
        assert usernames(response) == [
            "\\corp\\admin",
            "\\lab\\kim",
            "\\uni\\adoe",
            "\\uni\\jsmith",
        ]

    def test_search__ignores_case(self, admin_client, students):
        response = admin_client.get(CHANGELIST, {"q": "JSMITH"})
        assert usernames(response) == ["\\uni\\jsmith"]

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"is_blocked__exact": "1"}, ["\\uni\\adoe"]),
            ({"is_staff__exact": "1"}, ["\\corp\\admin", "\\lab\\kim"]),
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
