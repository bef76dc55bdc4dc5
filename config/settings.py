"""Settings, read once from the environment (listed in `.env.example` and the README).

A `.env` next to `manage.py` (or DJANGO_ENV_FILE) is read if present; real ones win.
A wrong value raises `ImproperlyConfigured` naming the variable (one line at start-up).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from django.utils.csp import CSP

from config.directories import directories
from config.env import (
    boolean,
    choice,
    database_url,
    integer,
    networks,
    number,
    secret_key,
    sizes,
)
from config.log import LOG_LEVELS, logging_config
from config.pool import check_connection

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The test suite sets DJANGO_ENV_FILE empty: a developer's `.env` decides nothing.
if env_file := env.str("DJANGO_ENV_FILE", default=str(BASE_DIR / ".env")):
    environ.Env.read_env(env_file)

# --- Core ------------------------------------------------------------------------

DEBUG = boolean("DJANGO_DEBUG", default=False)
SECRET_KEY = secret_key("DJANGO_SECRET_KEY", debug=DEBUG)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"]
)

INSTALLED_APPS = [
    # First: its templates and commands (clearsessions) win over Django's.
    "accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",  # the trigram index of accounts
    "health",
    "signin",
    "config.apps.ProjectConfig",
    "axes",  # sign-in lockouts: failed attempts in PostgreSQL
    "audit",  # the security audit trail, after axes: it reads axes' verdict
    "corsheaders",
]

MIDDLEWARE = [
    "config.middleware.NoStoreApiMiddleware",
    "config.middleware.ApiErrorsMiddleware",
    "corsheaders.middleware.CorsMiddleware",  # first to answer a preflight
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "accounts.sessions.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "signin.devices.DeviceCookieMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.UnavailableMiddleware",
    # Turns a request flagged as locked out into its 429.
    "axes.middleware.AxesMiddleware",
    "audit.events.AuditContextMiddleware",  # a change's who and where, for triggers
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",  # {{ csp_nonce }}
            ],
        },
    },
]

# --- Database: Django's psycopg pool, 5 to 15 connections a process -------------
# A request waits 3 s for a connection, not psycopg's 30.
DB_POOL_MIN_SIZE, DB_POOL_MAX_SIZE = sizes(
    "DB_POOL_MIN_SIZE", 5, "DB_POOL_MAX_SIZE", 15
)
DB_POOL_TIMEOUT = number("DB_POOL_TIMEOUT", 3.0, minimum=0.1)
DB_CONNECT_TIMEOUT = integer("DB_CONNECT_TIMEOUT", 2)

_url = database_url("DATABASE_URL", debug=DEBUG)
DATABASES = {
    "default": {
        **_url,
        "CONN_MAX_AGE": 0,  # the pool keeps connections; Django must not
        "OPTIONS": {
            "connect_timeout": DB_CONNECT_TIMEOUT,
            # The URL's query (sslmode, sslrootcert, target_session_attrs,
            # options, ...) reaches libpq, and wins over the default above.
            **_url.get("OPTIONS", {}),
            "pool": {
                "min_size": DB_POOL_MIN_SIZE,
                "max_size": DB_POOL_MAX_SIZE,
                "timeout": DB_POOL_TIMEOUT,
                # Bounded in time: psycopg's own check waits forever on a frozen server.
                "check": check_connection,
            },
        },
    },
}
# Behind PgBouncer's transaction mode nothing may outlive a transaction: no
# server-side cursors, direct or not (prepared statements are off by default).
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts ------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: a locked-out attempt is refused before any password is hashed.
    "axes.backends.AxesStandaloneBackend",
    # The domains of DIRECTORY_DOMAINS: their school directory, and nothing
    # after it (signin.directory); for other domains, the next one.
    "signin.directory.DirectoryBackend",
    # Django's own: the lookup is case-insensitive (UserManager), a blocked
    # user is inactive (User.is_active), and the name is unique (a constraint).
    "django.contrib.auth.backends.ModelBackend",
]
# Directory sign-in: DIRECTORY_DOMAINS and each domain's DIRECTORY_<D>_*
# (config/directories.py), as django-auth-ldap's AUTH_LDAP_<D>_* settings.
DIRECTORIES, _directory_settings = directories()
globals().update(_directory_settings)
# bcrypt (12 rounds) first; the others verify old or imported (import_users)
# hashes, upgraded at the next sign-in. Each takes a hashing slot, and checks
# only hashes within accounts.password_hashes' rule (signin.hashers).
PASSWORD_HASHERS = [
    "signin.hashers.BoundedBCryptSHA256PasswordHasher",
    "signin.hashers.BoundedBCryptPasswordHasher",
    "signin.hashers.BoundedPBKDF2PasswordHasher",
    "signin.hashers.BoundedScryptPasswordHasher",
]
# NIST SP 800-63B: a minimum length, no maximum, no composition rules.
PASSWORD_MIN_LENGTH = integer("DJANGO_PASSWORD_MIN_LENGTH", 12, minimum=8)
_DJANGOS = "django.contrib.auth.password_validation"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"{_DJANGOS}.UserAttributeSimilarityValidator"},
    {
        "NAME": f"{_DJANGOS}.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": f"{_DJANGOS}.CommonPasswordValidator"},
    {"NAME": "accounts.password_validation.UsernamePartsValidator"},
]

# --- Sessions and the API: the `sessions` table (accounts.sessions) --------------
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
# /api/docs: on with debug, else when asked for. The `ninja` app (its static
# files) is installed only then: it costs each worker 12 MiB at start.
API_DOCS = boolean("DJANGO_API_DOCS", default=DEBUG)
if API_DOCS:
    INSTALLED_APPS.append("ninja")

# --- Sign-in under attack ---------------------------------------------------------
# Proxies whose X-Forwarded-For is believed; nobody else's.
TRUSTED_PROXIES = networks("DJANGO_TRUSTED_PROXIES")
# The lockout policy (signin/lockout.py, django-axes): a name is locked after
# SIGNIN_FAILURE_LIMIT failures, an address after SIGNIN_ADDRESS_FAILURE_LIMIT
# (for any names: a school's NAT carries hundreds of people), each for the
# cool-off; a browser's device cookie for the name exempts it from both.
SIGNIN_FAILURE_LIMIT = integer("DJANGO_SIGNIN_FAILURE_LIMIT", 5)
SIGNIN_ADDRESS_FAILURE_LIMIT = integer(
    "DJANGO_SIGNIN_ADDRESS_FAILURE_LIMIT", 50, minimum=SIGNIN_FAILURE_LIMIT
)
SIGNIN_COOLOFF_SECONDS = integer("DJANGO_SIGNIN_COOLOFF_SECONDS", 900)
AXES_FAILURE_LIMIT = SIGNIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=SIGNIN_COOLOFF_SECONDS)
AXES_LOCKOUT_PARAMETERS = "signin.lockout.lockout_parameters"
# signin.lockout clears the user's own failures: axes' reset would clear the
# address's too, and with them the guesses at classmates made from it.
AXES_RESET_ON_SUCCESS = False
AXES_SENSITIVE_PARAMETERS = []  # log who and where (passwords are always masked)
DEVICE_COOKIE_NAME = "device"
DEVICE_COOKIE_AGE = integer("DJANGO_DEVICE_COOKIE_AGE", 180 * 24 * 60 * 60, minimum=60)
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a refused try extends nothing
AXES_USERNAME_CALLABLE = "signin.lockout.lockout_username"
AXES_CLIENT_IP_CALLABLE = "core.clients.client_ip"
AXES_CLIENT_STR_CALLABLE = "signin.lockout.client_str"
AXES_LOCKOUT_CALLABLE = "signin.lockout.lockout_response"
# A bcrypt hash takes a core for about 0.3 s: at most threads less one a process,
# so that pages always find a thread; past SIGNIN_HASH_WAIT seconds, 503
# (signin.hashers). Behind nginx an instance gets 2 at once (docker/nginx).
SIGNIN_HASH_SLOTS = integer(
    "DJANGO_SIGNIN_HASH_SLOTS", max(1, integer("GUNICORN_THREADS", 3) - 1)
)
SIGNIN_HASH_WAIT = number("DJANGO_SIGNIN_HASH_WAIT", 0.5, minimum=0)

# --- Internationalisation, static files --------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# English only: translation off saves ~200 catalog lookups an admin page. A
# second language turns it back on, with LocaleMiddleware.
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves the collected files, compressed and cached for ever; before
# `collectstatic`, the apps' own files under their plain names (config/storage.py).
WHITENOISE_USE_FINDERS = not (STATIC_ROOT / "staticfiles.json").exists()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "config.storage.StaticFilesStorage"},
}

# --- HTTPS: production-safe defaults; `make run` and the tests turn them off -----

SECURE_SSL_REDIRECT = boolean("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = integer("DJANGO_SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = boolean(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True
)
SECURE_HSTS_PRELOAD = boolean("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = boolean(
    "DJANGO_SECURE_COOKIES", default=True
)
# Content-Security-Policy, enforced on every response (admin, API, sign-in):
# scripts and styles from this site only, or inline with the response's nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# Permissions-Policy (django-permissions-policy): no page here needs a camera,
# a microphone or the location; passkeys (WebAuthn) only from this site.
_DENIED_FEATURES = (
    "accelerometer",
    "browsing-topics",
    "camera",
    "display-capture",
    "geolocation",
    "gyroscope",
    "magnetometer",
    "microphone",
    "payment",
    "usb",
)
PERMISSIONS_POLICY = {
    **{feature: [] for feature in _DENIED_FEATURES},
    "fullscreen": ["self"],
    "publickey-credentials-create": ["self"],
    "publickey-credentials-get": ["self"],
}
# Only behind a TLS proxy that sets X-Forwarded-Proto (stripping the client's):
if boolean("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging: one line per event on stdout, never a secret (config/log.py) --------

LOG_LEVEL = choice("DJANGO_LOG_LEVEL", "INFO", LOG_LEVELS)
# Each SQL statement and its duration on the log, for development; never in
# production. Parameters go through the same redaction as every log line.
SQL_ECHO = boolean("DJANGO_SQL_ECHO", default=False)
LOGGING = logging_config(LOG_LEVEL, sql_echo=SQL_ECHO)
