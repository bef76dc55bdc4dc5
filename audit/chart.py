"""The events list's chart: sign-ins succeeded, failed and locked out per hour
over the last 7 days and per day over the last 30, in the admin's time zone
(DJANGO_TIME_ZONE), drawn here as SVG (no JavaScript): stacked bars on a time
axis with days and hours labelled, a y scale, a legend with the totals, and
the same numbers as a table for keyboards and screen readers.

Counts come from the hours a trigger keeps (audit.SigninHour: at most 3 x 720
rows, however many events there are) unless the list is filtered by more than
kind and date: then from the filtered events themselves (by user, name or
address, which their indexes answer), when they are few enough for the list to
count them exactly (audit.admin.EventPaginator.CAP): a search that matches more
is not drawn (the page says to narrow it), so that none reads a month of
millions of events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from audit.models import Kind, SigninHour

# The series, bottom to top, and colours readable on the light and dark themes.
SERIES = {
    Kind.SIGNIN_SUCCEEDED: "#3d8fc4",
    Kind.SIGNIN_FAILED: "#d9453d",
    Kind.SIGNIN_LOCKED_OUT: "#e39a1c",
}
HOURS, DAYS = 7 * 24, 30
# The drawing's box; it scales to the page's width (viewBox).
WIDTH, HEIGHT = 960, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 8, 10, 40
# Query parameters of the list that the trigger's hours can answer.
HOURLY_FILTERS = {"kind__exact", "occurred_at__gte", "occurred_at__lt", "o", "p"}


@dataclass
class Chart:
    caption: str
    buckets: list[datetime]  # each bar's start, local time
    labels: list[str]  # each bar's name, as the table and the tooltips say it
    counts: dict[str, list[int]]  # kind -> a count for each bucket
    ticks: list[tuple[int, str, bool]] = field(
        default_factory=list
    )  # bar, label, major

    @property
    def series(self) -> list[dict]:
        return [
            {
                "kind": kind,
                "label": Kind(kind).label,
                "colour": colour,
                "total": sum(self.counts[kind]),
            }
            for kind, colour in SERIES.items()
            if kind in self.counts
        ]

    @property
    def rows(self) -> list[tuple[str, list[int]]]:
        """The table: a row a bucket, a count a series."""
        kinds = list(self.counts)
        return [
            (label, [self.counts[kind][n] for kind in kinds])
            for n, label in enumerate(self.labels)
        ]

    def table_rows(self) -> SafeString:
        """The table's body, made here as the bars are (198 rows a page): each
        label escaped, the rest whole numbers."""
        return mark_safe(  # noqa: S308 - escaped labels and integers only
            "".join(
                f'<tr><th scope="row">{escape(label)}</th>'
                + "".join(f"<td>{int(n)}</td>" for n in counts)
                + "</tr>"
                for label, counts in self.rows
            )
        )

    def svg(self) -> SafeString:
        peak = max(
            (sum(c[n] for c in self.counts.values()) for n in range(len(self.buckets))),
            default=0,
        )
        top = nice_ceiling(peak)
        plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
        step = plot_w / len(self.buckets)
        bar = max(1.0, step * 0.8)

        def y(value: float) -> float:
            return round(TOP + plot_h - plot_h * value / top, 1)

        grid = [
            (LEFT, y(v), WIDTH - RIGHT, y(v), LEFT - 6, y(v) + 4, f"{v:,}")
            for v in scale(top)
        ]
        # Up to 504 bars: made with f-strings of numbers and of texts escaped
        # once each (format_html a bar cost the page ~40 ms at 2,000,000 events).
        names = {kind: (escape(kind), escape(Kind(kind).label)) for kind in self.counts}
        rects = []
        for n, label in enumerate(map(escape, self.labels)):
            base = 0
            x = round(LEFT + n * step + (step - bar) / 2, 1)
            for kind, counts in self.counts.items():
                if count := int(counts[n]):
                    top_y, kind_name = y(base + count), names[kind]
                    rects.append(
                        f'<rect data-kind="{kind_name[0]}" x="{x}" y="{top_y}" '
                        f'width="{round(bar, 1)}" height="{round(y(base) - top_y, 1)}">'
                        f"<title>{label}: {kind_name[1]} {count}</title></rect>"
                    )
                    base += count
        ticks = [
            (
                round(LEFT + n * step, 1),
                TOP + plot_h,
                round(LEFT + n * step, 1),
                TOP + plot_h + (8 if major else 4),
                round(LEFT + n * step, 1),
                TOP + plot_h + (32 if major else 18),
                "major" if major else "minor",
                text,
            )
            for n, text, major in self.ticks
        ]
        return format_html(
            '<svg viewBox="0 0 {} {}" preserveAspectRatio="none" width="100%" '
            'height="{}" aria-hidden="true" focusable="false">'
            '<g class="grid">{}</g><g class="bars">{}</g><g class="axis">'
            '<line x1="{}" y1="{}" x2="{}" y2="{}"></line>{}</g></svg>',
            WIDTH,
            HEIGHT,
            HEIGHT,
            format_html_join(
                "",
                '<line x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                '<text x="{}" y="{}" text-anchor="end">{}</text>',
                grid,
            ),
            mark_safe("".join(rects)),  # noqa: S308 - escaped above
            LEFT,
            TOP + plot_h,
            WIDTH - RIGHT,
            TOP + plot_h,
            format_html_join(
                "",
                '<line x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                '<text x="{}" y="{}" class="{}">{}</text>',
                ticks,
            ),
        )


def nice_ceiling(value: int) -> int:
    """The scale's top: 1, 2 or 5 times a power of ten, at least `value` (and 4)."""
    if value <= 4:
        return 4
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * power and (factor * power) % 4 == 0:
            return int(factor * power)
    return int(10 * power)


def scale(top: int) -> list[int]:
    return [top * n // 4 for n in range(5)]


def hourly_counts(start: datetime, kinds, events=None) -> dict:
    """{(kind, UTC hour): count} since `start`: from the trigger's hours, or
    from `events` (a filtered list of events) when given."""
    if events is None:
        rows = SigninHour.objects.filter(kind__in=kinds, hour__gte=start)
        return {(k, h): n for k, h, n in rows.values_list("kind", "hour", "events")}
    rows = (
        events.filter(kind__in=kinds, occurred_at__gte=start)
        .annotate(at=TruncHour("occurred_at", tzinfo=timezone.UTC))
        .values("kind", "at")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(row["kind"], row["at"]): row["n"] for row in rows}


def bound(request, name: str) -> datetime | None:
    """A date filter's bound from the list's query, as Django's date filter
    writes it (a date, or a date and time), in the current time zone."""
    value = request.GET.get(name, "")
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime.combine(day, datetime.min.time())
    except ValueError:  # well formed, no such date: the list says so
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def needs_events(request) -> bool:
    """Whether the list's filters are more than the trigger's hours know."""
    return bool(request.GET.get("q")) or not set(request.GET) <= HOURLY_FILTERS


def charts(request, events) -> dict[str, Chart]:
    """The week's hours and the month's days, for the list's `events`."""
    kinds = list(SERIES)
    if kind := request.GET.get("kind__exact"):
        kinds = [k for k in kinds if k == kind]
    # Hours counted in UTC (a day of 23 or 25 hours stays right), named locally.
    now = timezone.now()
    first_hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(
        hours=HOURS - 1
    )
    hours = [first_hour + timedelta(hours=n) for n in range(HOURS)]
    today = timezone.localdate(now)
    days = [today - timedelta(days=DAYS - 1 - n) for n in range(DAYS)]
    first_day = timezone.make_aware(datetime.combine(days[0], datetime.min.time()))
    filtered = needs_events(request)
    counts = hourly_counts(
        min(first_day, first_hour), kinds, events if filtered else None
    )
    # The list's date filter ("Past 7 days", "This month" ...) applies too.
    since, before = (
        bound(request, "occurred_at__gte"),
        bound(request, "occurred_at__lt"),
    )
    by_hour = {kind: [0] * HOURS for kind in kinds}
    by_day = {kind: [0] * DAYS for kind in kinds}
    day_index = {day: n for n, day in enumerate(days)}
    zone = timezone.get_current_timezone()
    for (kind, hour), n in counts.items():
        if (since and hour < since) or (before and hour >= before):
            continue
        if (h := int((hour - first_hour).total_seconds() // 3600)) in range(HOURS):
            by_hour[kind][h] += n
        if (d := day_index.get(hour.astimezone(zone).date())) is not None:
            by_day[kind][d] += n
    local_hours = [timezone.localtime(h) for h in hours]
    hourly = Chart(
        caption="per hour, the last 7 days",
        buckets=hours,
        labels=[f"{h:%a %d %b %H}:00" for h in local_hours],
        counts=by_hour,
        # Every sixth hour; each day named below its midnight.
        ticks=[
            *(
                (n, f"{h:%H}", False)
                for n, h in enumerate(local_hours)
                if h.hour % 6 == 0
            ),
            *(
                (n, f"{h:%a %d %b}", True)
                for n, h in enumerate(local_hours)
                if h.hour == 0
            ),
        ],
    )
    daily = Chart(
        caption="per day, the last 30 days",
        buckets=[
            timezone.make_aware(datetime.combine(d, datetime.min.time())) for d in days
        ],
        labels=[f"{d:%a %d %b}" for d in days],
        counts=by_day,
        # Each day's number; each Monday named below it.
        ticks=[
            *((n, f"{d:%d}", False) for n, d in enumerate(days)),
            *(
                (n, f"{d:%a %d %b}", True)
                for n, d in enumerate(days)
                if d.weekday() == 0
            ),
        ],
    )
    return {"hourly": hourly, "daily": daily}
