"""The project's settings without the audit trail's middleware: bench.audit_trail's
"without" (with bench.untrailed, which disconnects its receivers)."""

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE

MIDDLEWARE = [m for m in MIDDLEWARE if m != "audit.events.AuditContextMiddleware"]
