"""Lookups by username use their indexes (a test of the plan, not of time)."""

import pytest
from django.db import connection

from accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def many_users(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO users (username, password_hash) "
            "SELECT '\\uni\\user' || n, 'x' FROM generate_series(1, 100000) AS n"
        )
        cursor.execute("ANALYZE users")


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
