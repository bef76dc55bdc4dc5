"""The web frontend as the tests play it, and the password of their users."""

from __future__ import annotations

import json

from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client

# Every test user's password, unless a test is about another one.
PASSWORD = "correct horse 42"
JSON = "application/json"


class Frontend:
    """A browser running the platform's frontend: a CSRF token, then JSON calls."""

    def __init__(self, agent="browser/1.0"):
        self.client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=agent)
        self.refresh_token()

    def refresh_token(self):
        self.token = self.client.get("/api/auth/csrf").json()["csrf_token"]

    def post(self, path, body=None, raw=None):
        data = raw if raw is not None else json.dumps(body or {})
        return self.client.post(
            path, data, content_type=JSON, headers={"X-CSRFToken": self.token}
        )

    def delete(self, path):
        return self.client.delete(path, headers={"X-CSRFToken": self.token})

    def get(self, path):
        return self.client.get(path)

    def sign_in(self, username="\\uni\\jsmith", password=PASSWORD):
        response = self.post(
            "/api/auth/login", {"username": username, "password": password}
        )
        # Django rotates the CSRF token at sign-in, as it does the session key.
        self.refresh_token()
        return response


class CountingHasher(MD5PasswordHasher):
    """MD5 (fast, for tests) that counts the hashes it computes."""

    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)
