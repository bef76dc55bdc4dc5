"""Sessions, and who may call the API from elsewhere (CORS, CSRF)."""

from __future__ import annotations

from config.env import integer
from config.settings.core import env

# The `sessions` table (accounts.sessions).
SESSION_ENGINE = "accounts.sessions"
# From sign-in, whatever the session saves; at most this long unused; and how
# long an authentication counts as recent for sensitive calls (signin.reauth);
# purge_auth_events removes security events older than AUDIT_RETENTION_DAYS.
SESSION_COOKIE_AGE = integer("DJANGO_SESSION_COOKIE_AGE", 8 * 60 * 60, minimum=60)
SESSION_IDLE_SECONDS = integer("DJANGO_SESSION_IDLE_SECONDS", 30 * 60, minimum=60)
REAUTH_SECONDS = integer("DJANGO_REAUTH_SECONDS", 300, minimum=1)
AUDIT_RETENTION_DAYS = integer("DJANGO_AUDIT_RETENTION_DAYS", 365, minimum=1)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Origins (scheme://host) of a frontend served elsewhere that may call the API,
# with its cookies (django-cors-headers, /api/ only); each is trusted for CSRF.
CORS_ALLOWED_ORIGINS = env.list("DJANGO_CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_CREDENTIALS = True
CORS_URLS_REGEX = r"^/api/"
CSRF_TRUSTED_ORIGINS = [
    *env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[]),
    *CORS_ALLOWED_ORIGINS,
]
