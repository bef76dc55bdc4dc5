"""The admin's second-factor pages (signin/mfa_pages.py), under /admin/."""

from django.urls import path

from signin import mfa_pages

urlpatterns = [
    path("", mfa_pages.verify, name="mfa-verify"),
    path("setup/", mfa_pages.setup, name="mfa-setup"),
]
