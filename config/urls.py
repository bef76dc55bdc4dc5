"""URLs of the platform. `/health` and `/health/live` are served by
`health.middleware.ProbeMiddleware`, ahead of host validation."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
