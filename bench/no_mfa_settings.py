"""The project's settings without the second factor's middleware: bench.mfa's
"before", the path a signed-in request took without it."""

from config.settings import *  # noqa: F403

MIDDLEWARE = [
    name
    for name in MIDDLEWARE  # noqa: F405
    if name
    not in (
        "django_otp.middleware.OTPMiddleware",
        "mfa.middleware.SecondFactorMiddleware",
    )
]
