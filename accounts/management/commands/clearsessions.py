# Django's command, which removes expired rows through SESSION_ENGINE, here the
# `sessions` table: django.contrib.sessions, which ships it, is not installed.
from django.contrib.sessions.management.commands.clearsessions import Command

__all__ = ["Command"]
