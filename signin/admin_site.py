"""The platform's admin site: Django's, under the platform's name
(DJANGO_SITE_NAME), whose sign-in page sends a half-done sign-in (mfa.flows) on
to its second step, or to enrolment for one who has no factor yet. Installed by
signin.apps.AdminConfig (Django's `default_site`)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from mfa import flows


class PlatformAdminSite(admin.AdminSite):
    index_title = "Staff console"

    @property
    def site_header(self) -> str:
        return settings.SITE_NAME

    @property
    def site_title(self) -> str:
        return settings.SITE_NAME

    def login(self, request, extra_context=None):
        pending = flows.pending_user(request)
        if pending is not None and request.method == "GET":
            page = "mfa-verify" if flows.methods(pending) else "mfa-setup"
            query = urlencode({"next": request.GET.get("next", reverse("admin:index"))})
            return redirect(f"{reverse(page)}?{query}")
        return super().login(request, extra_context)
