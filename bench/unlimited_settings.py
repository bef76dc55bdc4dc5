"""The project's settings with session limits no session reaches: bench.session_me's
"before". Session.is_live still runs, on the same path; only nothing ends."""

from config.settings import *  # noqa: F403

SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS = 10 * 365 * 24 * 60 * 60
