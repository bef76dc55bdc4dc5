"""URLs of the platform. `/health` and `/health/live` are answered ahead of Django by
`health.probes.serve_probes` (config/wsgi.py)."""

from django.contrib import admin
from django.urls import path

from config.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
