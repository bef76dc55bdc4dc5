"""The probes served ahead of Django, as gunicorn calls them."""

import io
import json
from http import HTTPStatus

import pytest
from django.core.wsgi import get_wsgi_application

from health.wsgi import serve_probes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def application():
    """The stack of config/wsgi.py, built under the tests' settings."""
    return serve_probes(get_wsgi_application())


def call(application, method, path, host="10.0.3.17:8000"):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "10.0.3.17",
        "SERVER_PORT": "8000",
        "HTTP_HOST": host,
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
    }
    started = {}

    def start_response(status, headers):
        started["status"] = int(status.split()[0])
        started["headers"] = dict(headers)

    body = b"".join(application(environ, start_response))
    return started["status"], started["headers"], body


class TestServeProbes:
    def test_get_health__answers_the_contract_for_any_host(self, application):
        status, headers, body = call(application, "GET", "/health")
        assert status == HTTPStatus.OK
        assert headers["Content-Type"] == "application/json"
        assert headers["Cache-Control"] == "no-store"
        assert headers["Content-Length"] == str(len(body))
        assert json.loads(body)["status"] == "healthy"

    def test_head__has_the_headers_and_no_body(self, application):
        status, headers, body = call(application, "HEAD", "/health/live")
        assert status == HTTPStatus.OK
        assert headers["Content-Type"] == "application/json"
        assert body == b""

    def test_other_methods__go_to_django_which_refuses_them(self, application):
        assert call(application, "POST", "/health")[0] == HTTPStatus.METHOD_NOT_ALLOWED

    def test_other_paths__go_to_django_and_its_host_validation(self, application):
        assert call(application, "GET", "/admin/login/")[0] == HTTPStatus.BAD_REQUEST
