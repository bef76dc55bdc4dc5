"""The audit trail in the admin: read-only for everyone, fast at 10,000,000 events,
with the sign-ins, failures and lockouts of the last week and month drawn above
the list (audit.chart)."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.contrib import admin
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import Truncator

from accounts.admin import short_time
from audit import chart
from audit.models import AuthEvent
from core.paginators import EstimatedCountPaginator

# Of a user agent in the list (the whole in its title, and on the event's page):
# the list's columns fit beside the filter panel at 1280 px.
AGENT_CHARS = 24


class EventPaginator(EstimatedCountPaginator):
    """Pages without COUNT(*) of the table: the planner's estimate for the whole
    list, and a filtered list counted up to CAP rows (an index scan)."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        if not self.object_list.query.where:
            return super().count
        return self.object_list.order_by()[: self.CAP + 1].count()


@admin.register(AuthEvent)
class AuthEventAdmin(admin.ModelAdmin):
    list_display = ("when", "kind", "username", "ip", "agent", "actor")
    list_filter = ("kind", "occurred_at")
    list_select_related = ("actor",)
    search_fields = ("username",)
    search_help_text = "The start of a username, or an IP address."
    # Django renders a row in about 1 ms: 50 keep the page under 150 ms.
    list_per_page = 50
    paginator = EventPaginator
    show_full_result_count = False
    fields = (
        "occurred_at",
        "kind",
        "user",
        "username",
        "ip",
        "user_agent",
        "actor",
        "detail",
    )
    readonly_fields = fields

    @admin.display(description="when", ordering="occurred_at")
    def when(self, event):
        return short_time(event.occurred_at)

    @admin.display(description="user agent", ordering="user_agent")
    def agent(self, event):
        """The browser, shortened to fit a row; the whole on hover, and on the
        event's own page."""
        if not event.user_agent:
            return "-"
        return format_html(
            '<span title="{}">{}</span>',
            event.user_agent,
            Truncator(event.user_agent).chars(AGENT_CHARS),
        )

    # Nobody adds, changes or deletes an event (the database refuses it too).
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        # A user's change page links here, to that user's events.
        return lookup == "user__id__exact" or super().lookup_allowed(
            lookup, value, request
        )

    def get_search_results(self, request, queryset, search_term):
        """An address is looked up by address, anything else as a name's start."""
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            address = ipaddress.ip_address(term)
        except ValueError:
            return queryset.filter(username__istartswith=term), False
        return queryset.filter(ip=str(address)), False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        cl = getattr(response, "context_data", {}).get("cl")
        if cl is not None:
            # The chart counts what the list shows: its filters and search.
            # A search matching more than the chart may read is not drawn.
            too_many = (
                chart.needs_events(request) and cl.result_count > EventPaginator.CAP
            )
            response.context_data.update(
                signin_charts={} if too_many else chart.charts(request, cl.queryset),
                chart_too_many=too_many,
                chart_up_to=EventPaginator.CAP,
                chart_colours=chart.SERIES.items(),
                time_zone=settings.TIME_ZONE,
            )
        return response
