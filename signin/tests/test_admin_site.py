"""The admin under the platform's name, and in the school's time zone."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.models import AuthEvent, Kind

pytestmark = pytest.mark.django_db


def test_the_admin__bears_the_platforms_name(admin_client, settings):
    settings.SITE_NAME = "Lincoln High counseling"
    page = admin_client.get("/admin/").content.decode()
    assert "<title>Staff console | Lincoln High counseling</title>" in page
    assert ">Lincoln High counseling</a>" in page
    assert "Django administration" not in page


def test_the_admin__shows_times_in_the_schools_zone(admin_client, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    # Written as the table's owner (as the tests are), the event keeps its time.
    event = AuthEvent.objects.create(
        kind=Kind.SIGNOUT,
        username="\\uni\\jsmith",
        occurred_at=dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC),
    )
    page = admin_client.get(f"/admin/audit/authevent/{event.pk}/change/").content
    # 12:00 UTC is 14:00 in Berlin in July.
    assert b"2 p.m." in page or b"14:00" in page
