"""URLs of the platform. `/health` and `/health/live` are answered ahead of Django by
`health.probes.serve_probes` (config/wsgi.py)."""

from django.contrib import admin
from django.urls import include, path

from config.api import api

urlpatterns = [
    # Before the admin's own: its second step and one's factors (signin/).
    path("admin/second-factor/", include("signin.urls")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
