"""The audit trail in the admin: read-only for everyone, fast at 10,000,000 events,
with the last week's sign-ins, failures and lockouts drawn as a chart (SVG)."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.contrib import admin
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from audit.models import AuthEvent, Kind, SigninHour
from core.paginators import EstimatedCountPaginator

# The chart's series, and their colours (the admin's own palette).
CHART = {
    Kind.SIGNIN_SUCCEEDED: "#417690",
    Kind.SIGNIN_FAILED: "#ba2121",
    Kind.SIGNIN_LOCKED_OUT: "#c87e00",
}
HOURS = 7 * 24
BAR, BAND = 4, 50  # a bar's width and a series' height, in pixels
AGENT_CHARS = 40  # of a user agent in the list (the whole in its title)


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
    list_display = ("occurred_at", "kind", "username", "ip", "agent", "actor")
    list_filter = ("kind", "occurred_at")
    list_select_related = ("actor",)
    search_fields = ("username",)
    search_help_text = "The start of a username, or an IP address."
    list_per_page = 100
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
        return super().changelist_view(
            request, {**(extra_context or {}), "signin_chart": signin_chart()}
        )


def signin_chart() -> dict:
    """The last 7 days' sign-in outcomes per hour: bars, and the totals drawn."""
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(
        hours=HOURS - 1
    )
    # The hours a trigger keeps (audit.SigninHour): at most 3 x 168 rows to read,
    # however many events there are.
    hours = SigninHour.objects.filter(kind__in=list(CHART), hour__gte=start)
    counts = {(row.kind, row.hour): row.events for row in hours}
    peak = max(counts.values(), default=1)
    series = []
    for number, (kind, colour) in enumerate(CHART.items()):
        bars = []
        for index in range(HOURS):
            hour = start + timedelta(hours=index)
            if n := counts.get((kind, hour), 0):
                height = max(1.0, round((BAND - 10) * n / peak, 1))
                bars.append(
                    (index * BAR, BAND - height, height, f"{hour:%Y-%m-%d %H}:00", n)
                )
        series.append(
            {
                "kind": kind,
                "label": Kind(kind).label,
                "colour": colour,
                "top": number * BAND,
                "total": sum(bar[-1] for bar in bars),
                # Made here, not in a template loop: 504 bars cost a template
                # ~40 ms a page.
                "bars": format_html_join(
                    "",
                    '<rect x="{}" y="{}" width="3" height="{}"><title>{}: {}</title>'
                    "</rect>",
                    bars,
                ),
            }
        )
    return {
        "series": series,
        "start": start,
        "width": HOURS * BAR,
        "height": len(CHART) * BAND,
    }
