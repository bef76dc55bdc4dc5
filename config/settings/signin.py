"""Who may sign in and how: the user model, the backends (axes, the school
directories, Django's), password hashing and rules, and the lockout."""

from __future__ import annotations

from datetime import timedelta

from config.directories import directories
from config.env import integer, networks, number

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

# Sign-in under attack.
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
# Lockouts show, and clear, on the user's admin page (signin.admin): not
# as axes' three tables of attempts.
AXES_ENABLE_ADMIN = False
# A bcrypt hash takes a core for about 0.3 s: at most threads less one a process,
# so that pages always find a thread; past SIGNIN_HASH_WAIT seconds, 503
# (signin.hashers). Behind nginx an instance gets 2 at once (docker/nginx).
SIGNIN_HASH_SLOTS = integer(
    "DJANGO_SIGNIN_HASH_SLOTS", max(1, integer("GUNICORN_THREADS", 3) - 1)
)
SIGNIN_HASH_WAIT = number("DJANGO_SIGNIN_HASH_WAIT", 0.5, minimum=0)
