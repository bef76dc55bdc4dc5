"""The users list's paginator: fast pages and counts at a million users."""

from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property


class UserPaginator(Paginator):
    """The users list's pages, as Django's, with two costs of a million users cut (#12).

    - The whole table is counted from the planner's statistics, not COUNT(*),
      which read every row on every page. A filtered or searched list, or a
      table of fewer than ESTIMATE_FROM rows, is counted exactly.
    - A page past the first DEFER_FROM rows finds its rows' names first, then
      reads those rows: the rows it skips are walked in the name index alone
      (an index-only scan), not fetched from the table.
    """

    ESTIMATE_FROM = 100_000
    DEFER_FROM = 1_000

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if query is not None and not query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [self.object_list.model._meta.db_table],
                )
                (estimate,) = cursor.fetchone()
            if estimate >= self.ESTIMATE_FROM:
                return estimate
        return super().count

    def page(self, number):
        page = super().page(number)
        rows = page.object_list  # the list's query, sliced
        if not hasattr(rows, "query") or rows.query.low_mark < self.DEFER_FROM:
            return page
        # Names are unique: they pick out the same rows, kept in the same order.
        names = rows.values("username")
        page.object_list = self.object_list.filter(username__in=names)
        return page
