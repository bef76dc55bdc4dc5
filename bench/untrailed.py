"""The project's WSGI app with the audit trail's app side switched off: its
receivers disconnected (sign-ins, sign-outs, the events' log lines) and, with
DJANGO_SETTINGS_MODULE=bench.untrailed_settings, its middleware left out. The
triggers stay, as they belong to the database. bench.audit_trail's "without"."""

from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from django.db.backends.signals import connection_created

from config.wsgi import application

user_logged_in.disconnect(dispatch_uid="audit.signed_in")
user_login_failed.disconnect(dispatch_uid="audit.sign_in_failed")
user_logged_out.disconnect(dispatch_uid="audit.signed_out")
connection_created.disconnect(dispatch_uid="audit.log_events")

__all__ = ["application"]
