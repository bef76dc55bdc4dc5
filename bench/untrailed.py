"""The project's WSGI app with the audit trail's app-side recording switched off
(its receivers disconnected): bench.audit_trail's "without" for sign-ins."""

from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)

from config.wsgi import application

user_logged_in.disconnect(dispatch_uid="audit.signed_in")
user_login_failed.disconnect(dispatch_uid="audit.sign_in_failed")
user_logged_out.disconnect(dispatch_uid="audit.signed_out")

__all__ = ["application"]
