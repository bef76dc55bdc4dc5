"""The project's wiring: the environment file, debug, the secret key, apps,
middleware, templates, language and static files."""

from __future__ import annotations

from pathlib import Path

import environ

from config.env import boolean, secret_key, time_zone

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# The test suite sets DJANGO_ENV_FILE empty: a developer's `.env` decides nothing.
if env_file := env.str("DJANGO_ENV_FILE", default=str(BASE_DIR / ".env")):
    environ.Env.read_env(env_file)

DEBUG = boolean("DJANGO_DEBUG", default=False)
SECRET_KEY = secret_key("DJANGO_SECRET_KEY", debug=DEBUG)
# The platform's name: the admin's title, authenticator apps' and passkeys'.
SITE_NAME = env.str("DJANGO_SITE_NAME", default="Counseling platform")
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"]
)

INSTALLED_APPS = [
    # First: its templates and commands (clearsessions) win over Django's.
    "accounts",
    "signin.apps.AdminConfig",  # Django's admin, on the platform's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",  # the trigram index of accounts
    "health",
    "signin",
    "django_otp",
    "mfa",  # the second factor (django-otp devices)
    "config.apps.ProjectConfig",
    "axes",  # sign-in lockouts: failed attempts in PostgreSQL
    "audit",  # the security audit trail, after axes: it reads axes' verdict
    "corsheaders",
]

# /api/docs: on with debug, else when asked for. The `ninja` app (its static
# files) is installed only then: it costs each worker 12 MiB at start.
API_DOCS = boolean("DJANGO_API_DOCS", default=DEBUG)
if API_DOCS:
    INSTALLED_APPS.append("ninja")

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
    # Inside UnavailableMiddleware (their user may need the database):
    # request.user.is_verified(): which second factor verified the session.
    "django_otp.middleware.OTPMiddleware",
    # A sign-in waiting for its second step is anonymous to all else (mfa/).
    "mfa.middleware.SecondFactorMiddleware",
    # Turns a request flagged as locked out into its 429.
    "axes.middleware.AxesMiddleware",
    # Each request that may change something in one transaction, which first
    # tells the audit triggers the change's who and where.
    "config.middleware.TransactionPerChangeMiddleware",
    "audit.events.AuditContextMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own additions to the admin's pages (admin/base_site.html).
        "DIRS": [BASE_DIR / "config" / "templates"],
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


LANGUAGE_CODE = "en-us"
# The admin shows times in the school's zone (an IANA name: Europe/Berlin); the
# database and the API keep UTC.
TIME_ZONE = time_zone("DJANGO_TIME_ZONE", "UTC")
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
