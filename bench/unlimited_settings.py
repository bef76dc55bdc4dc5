"""The project's settings with the session limits switched off: bench.session_me's
"before" (the code path of /api/auth/me before the idle and absolute limits)."""

from config.settings import *  # noqa: F403

SESSION_ENGINE = "bench.unlimited_sessions"
