"""One transaction for each request that may change something
(config.middleware.TransactionPerChangeMiddleware), with the audit context in it."""

import pytest
from django.db import connection
from django.test import Client, RequestFactory

from accounts.models import User
from audit.models import AuthEvent, Kind
from config.middleware import TransactionPerChangeMiddleware

# Real transactions: the test's own would hide the middleware's.
pytestmark = pytest.mark.django_db(transaction=True)


def change_then_fail(request):
    User.objects.create_user("\\uni\\half")
    raise RuntimeError("after the first write")


class TestTransactionPerChange:
    def test_a_failing_change__leaves_nothing_behind(self):
        middleware = TransactionPerChangeMiddleware(change_then_fail)
        with pytest.raises(RuntimeError):
            middleware(RequestFactory().post("/admin/accounts/user/add/"))
        assert not User.objects.filter(username="\\uni\\half").exists()

    @pytest.mark.parametrize("method", ["get", "head", "options"])
    def test_reads__run_without_one(self, method):
        seen = []
        middleware = TransactionPerChangeMiddleware(
            lambda request: seen.append(connection.in_atomic_block)
        )
        middleware(getattr(RequestFactory(), method)("/admin/"))
        assert seen == [False]

    @pytest.mark.parametrize("path", ["/api/auth/login", "/admin/login/"])
    def test_sign_ins__run_without_one(self, path):
        seen = []
        middleware = TransactionPerChangeMiddleware(
            lambda request: seen.append(connection.in_atomic_block)
        )
        middleware(RequestFactory().post(path))
        assert seen == [False]

    def test_an_admin_change__names_its_staff_user_and_address(self):
        root = User.objects.create_superuser("\\corp\\root", password="x" * 16)
        student = User.objects.create_user("\\uni\\jsmith")
        client = Client(REMOTE_ADDR="198.51.100.7")
        client.force_login(root)
        client.post(
            "/admin/accounts/user/",
            {"action": "block", "_selected_action": [str(student.pk)]},
        )
        event = AuthEvent.objects.get(kind=Kind.USER_BLOCKED)
        assert (event.actor_id, event.ip) == (root.pk, "198.51.100.7")
