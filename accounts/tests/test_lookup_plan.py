"""Lookups by username use their indexes (a test of the plan, not of time)."""

from http import HTTPStatus

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.admin import UserAdmin
from accounts.models import User
from core.audit_context import tell_audit
from core.paginators import UserPaginator
from testsupport.mfa import verify_session

PER_PAGE = UserAdmin.list_per_page
# The admin's order of the users list (natural: user2 before user10).
NATURAL = UserAdmin.ordering

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def _many_users_committed(django_db_setup, django_db_blocker):
    """100,000 users, inserted once for the module (each test rolls back its own
    changes); emptied again, with their audit trail, when the module ends."""
    with (
        django_db_blocker.unblock(),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # A batch, as import_users makes one: its 100,000 events raise no notice
        # (and so write no log line each).
        tell_audit(via="tests")
        cursor.execute(
            "INSERT INTO users (username, password_hash) "
            "SELECT '\\uni\\user' || n, 'x' FROM generate_series(1, 100000) AS n"
        )
        cursor.execute("ANALYZE users")
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE users, auth_events, auth_event_hours CASCADE")


@pytest.fixture
def many_users(_many_users_committed, db):
    """The module's 100,000 users (and their statistics, analysed once), in
    this test's transaction."""


def test_login_lookup__is_an_index_scan_on_100k_users(many_users):
    lookup = User.objects.filter(username__iexact="\\UNI\\User4242")
    plan = lookup.explain()
    assert "Index Scan using idx_users_username_upper" in plan, plan
    assert "Seq Scan" not in plan, plan
    assert lookup.get().username == "\\uni\\user4242"


@pytest.mark.parametrize(
    "sql",
    [
        "EXPLAIN SELECT * FROM users WHERE username = %s",
        "EXPLAIN SELECT * FROM users WHERE username IN (%s)",
    ],
)
def test_exact_lookup__is_an_index_scan_on_100k_users(many_users, sql):
    """A report in psql, or `filter(username=...)`, uses idx_users_username."""
    with connection.cursor() as cursor:
        cursor.execute(sql, ["\\uni\\user4242"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan using idx_users_username " in plan + " ", plan
    assert "Seq Scan" not in plan, plan
    orm_plan = User.objects.filter(username="\\uni\\user4242").explain()
    assert "Index Scan using idx_users_username " in orm_plan + " ", orm_plan


def test_blocked_users__are_found_through_the_partial_index(many_users):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE users SET is_blocked = true WHERE username LIKE '%%\\\\user1234_'"
        )
        cursor.execute("ANALYZE users")
    blocked = User.objects.filter(is_blocked=True)
    plan = blocked.explain()
    assert "idx_users_is_blocked" in plan, plan
    assert blocked.count() == 10


@pytest.mark.usefixtures("many_users")
class TestAdminAtScale:
    """The admin's list, search and pages at 100,000 users: plans and queries."""

    def test_search__uses_the_trigram_index(self, many_users):
        plan = User.objects.filter(username__foldcontains="USER4242").explain()
        assert "idx_users_login_fold_trgm" in plan, plan
        assert "Seq Scan" not in plan, plan

    def test_list__counts_the_table_from_statistics(self, admin_client):
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get("/admin/accounts/user/")
        assert response.status_code == HTTPStatus.OK
        counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
        # One statement counts, at any size; at this one its COUNT(*) never runs.
        assert len(counts) == 1, counts
        assert "reltuples" in counts[0]
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + counts[0])
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "never executed" in plan, plan
        assert response.context["cl"].result_count >= 90_000

    def test_list__costs_the_same_statements_as_a_small_table(
        self, admin_client, many_users
    ):
        with CaptureQueriesContext(connection) as large:
            admin_client.get("/admin/accounts/user/")
        with connection.cursor() as cursor:
            # In the test's transaction, rolled back with it: the module's
            # 100,000 users come back for the next test.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # none left pending
            cursor.execute("TRUNCATE users CASCADE")
            cursor.execute("ANALYZE users")
        root = User.objects.create_superuser("\\corp\\root", password="root-pass-1")
        admin_client.force_login(root)
        verify_session(admin_client, root)  # as admin_client's first superuser
        with CaptureQueriesContext(connection) as small:
            response = admin_client.get("/admin/accounts/user/")
        assert response.context["cl"].result_count == 1  # counted exactly
        assert len(small) == len(large)

    def test_search__counts_exactly_and_shows_every_match(self, admin_client):
        response = admin_client.get("/admin/accounts/user/", {"q": "user4242"})
        expected = User.objects.filter(username__icontains="user4242").count()
        assert response.context["cl"].result_count == expected == 11
        shown = {str(u) for u in response.context["cl"].result_list}
        assert shown == {f"\\uni\\user4242{n}" for n in ["", *range(10)]}

    def test_search__reads_the_trigram_index_once(self, admin_client):
        """The matching keys are found once: the page reads them, and counts them."""
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get("/admin/accounts/user/", {"q": "user4242"})
        assert response.context["cl"].result_count == 11
        searches = [q["sql"] for q in queries if "LIKE" in q["sql"]]
        assert len(searches) == 1, searches
        # The page gets the 11 keys as one array; nothing counts them again.
        by_key = [q["sql"] for q in queries if "unnest(" in q["sql"]]
        assert len(by_key) == 1, by_key
        counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
        assert counts == [], counts

    @pytest.mark.parametrize(
        ("term", "page", "count"),
        [
            ("USER424", 1, 111),
            ("user424", 2, 111),
            ("user42", 1, 1111),  # more than SEARCH_KEYS_UP_TO: Django's search
            ("user42", 12, 1111),
            ("nobody", 1, 0),
        ],
    )
    def test_search__counts_and_pages_as_django(self, admin_client, term, page, count):
        response = admin_client.get("/admin/accounts/user/", {"q": term, "p": page})
        assert response.status_code == HTTPStatus.OK
        cl = response.context["cl"]
        expected = User.objects.filter(username__icontains=term).order_by(*NATURAL)
        assert cl.result_count == expected.count() == count
        start = (page - 1) * PER_PAGE
        assert [str(u) for u in cl.result_list] == [
            str(u) for u in expected[start : start + PER_PAGE]
        ]

    def test_deep_page__is_the_right_slice(self, admin_client):
        response = admin_client.get("/admin/accounts/user/", {"p": "500"})
        assert response.status_code == HTTPStatus.OK
        names = [str(u) for u in response.context["cl"].result_list]
        expected = list(
            User.objects.order_by(*NATURAL).values_list("username", flat=True)[
                499 * PER_PAGE : 500 * PER_PAGE
            ]
        )
        assert names == expected

    def test_deep_page__skips_rows_in_the_name_index_alone(self, admin_client):
        """Names are unique: the admin adds no tiebreaker on the id to sort, and
        the rows a deep page skips are read from idx_users_natural_order alone."""
        with CaptureQueriesContext(connection) as queries:
            admin_client.get("/admin/accounts/user/", {"p": "500"})
        (page,) = [q["sql"] for q in queries if "OFFSET" in q["sql"]]
        skipped = 499 * PER_PAGE
        assert (
            'WHERE "users"."username" IN (SELECT "U0"."username" AS "username" '
            'FROM "users" "U0" ORDER BY username_sort_key(("U0"."username")::text) '
            f"ASC, 1 ASC LIMIT {PER_PAGE} OFFSET {skipped})"
        ) in page
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {page}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Index Only Scan using idx_users_natural_order on users" in plan, plan
        assert "Seq Scan" not in plan, plan

    @pytest.mark.parametrize(
        "query",
        [{"p": "40", "o": "-2.1"}, {"p": "22", "is_blocked__exact": "0", "o": "-1"}],
    )
    def test_deep_page__is_djangos_slice_in_any_order(self, admin_client, query):
        # 1,000 blocked: page 40, blocked first, lies past them; page 22 of the
        # unblocked is read around them (both past UserPaginator.DEFER_FROM).
        User.objects.filter(username__endswith="77").update(is_blocked=True)
        response = admin_client.get("/admin/accounts/user/", query)
        cl = response.context["cl"]
        bottom = (int(query["p"]) - 1) * PER_PAGE
        assert bottom >= UserPaginator.DEFER_FROM
        expected = list(cl.queryset[bottom : bottom + PER_PAGE])
        assert len(expected) == PER_PAGE
        assert list(cl.result_list) == expected

    def test_shallow_page__reads_its_rows_at_once(self, admin_client):
        with CaptureQueriesContext(connection) as queries:
            admin_client.get("/admin/accounts/user/", {"p": "10"})
        (page,) = [q["sql"] for q in queries if "OFFSET" in q["sql"]]
        assert page.endswith(
            'ORDER BY username_sort_key(("users"."username")::text) ASC, '
            f'"users"."username" ASC LIMIT {PER_PAGE} OFFSET {9 * PER_PAGE}'
        )


@pytest.mark.usefixtures("many_users")
class TestWholeNameSearch:
    """A term with both backslashes is a prefix search: same results, btree."""

    @pytest.mark.parametrize(
        "term",
        ["\\UNI\\user4242", "\\uni\\USER99999", "\\uni\\", "uni\\user1\\", "\\a\\b\\c"],
    )
    def test_results__are_those_of_contains(self, admin_client, term):
        response = admin_client.get("/admin/accounts/user/", {"q": term})
        shown = [str(u) for u in response.context["cl"].result_list]
        expected = User.objects.filter(username__icontains=term).order_by(*NATURAL)
        assert response.context["cl"].result_count == expected.count()
        assert shown == list(expected.values_list("username", flat=True)[:PER_PAGE])

    def test_whole_name__scans_the_case_insensitive_btree(self, admin_client):
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(
                "/admin/accounts/user/", {"q": "\\uni\\user4242"}
            )
        assert response.context["cl"].result_count == 11
        searches = [q["sql"] for q in queries if "LIKE" in q["sql"]]
        assert searches
        with connection.cursor() as cursor:
            for sql in searches:
                cursor.execute(f"EXPLAIN {sql}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
                assert "idx_users_username_upper" in plan, plan
                assert "trgm" not in plan, plan
                assert "Seq Scan" not in plan, plan
