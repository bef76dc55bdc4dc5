"""The rows of the admin's user list, as Django renders them, at a fraction of the cost.

For each cell of a page, Django's `items_for_result` looks up the field, its
display, its classes and, for the name, the link and the filters to keep: at
100 rows of 6 columns, most of a list page at 1,000,000 users (#12). The user
list's columns are known, so this works those out once a page and fills in each
row, with Django's own functions for each value. Any other shape of the list (a
popup, other columns, editable rows) gets Django's rows; the tests compare both.
"""

from html import escape as escape_html

from django import template
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.templatetags.admin_list import (
    ResultList,
    result_headers,
    result_list,
)
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.contrib.admin.utils import display_for_field, quote
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString
from django.utils.translation import gettext

register = template.Library()

COLUMNS = ["username", "is_blocked", "is_staff", "created_at", "updated_at"]
SHAPES = (COLUMNS, ["action_checkbox", *COLUMNS])
ROWS_APART = "</tr>\n\n\n<tr>"
MARKER = "~pk~"  # a key that neither the admin's quote() nor the URL changes


def user_result_list(cl) -> dict:
    """Django's `result_list`, with the rows of `user_rows()` when it can give them."""
    rows = user_rows(cl)
    if rows is None:
        return result_list(cl)
    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": [],
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        # change_list_results.html writes each row as "\n\n<tr>{cells}</tr>\n",
        # a loop of 100 rows that cost a seventh of a page. The rows reach it as
        # one, joined the way the loop would write them: its loop runs once.
        "results": [ResultList(None, [SafeString(ROWS_APART.join(rows))])]
        if rows
        else [],
    }


@register.tag(name="user_result_list")
def user_result_list_tag(parser, token):
    return InclusionAdminNode(
        "user_result_list",
        parser,
        token,
        func=user_result_list,
        template_name="change_list_results.html",
        takes_context=False,
    )


def user_rows(cl) -> list[str] | None:
    """Each row's cells, as Django's `items_for_result` gives them, joined; or None."""
    if (
        list(cl.list_display) not in SHAPES
        or cl.list_display_links != ["username"]
        or cl.formset is not None
        or cl.is_popup
        or cl.to_field
    ):
        return None
    empty = cl.model_admin.get_empty_value_display()
    fields = {name: cl.lookup_opts.get_field(name) for name in COLUMNS}
    # The change link with the list's filters kept, worked out once: only the
    # key differs from row to row.
    link = add_preserved_filters(
        {"preserved_filters": cl.preserved_filters, "opts": cl.opts},
        cl.url_for_result(cl.model(pk=MARKER)),
    )
    head, _, tail = (escape(part) for part in link.partition(MARKER))
    icons = {
        name: {v: display_for_field(v, fields[name], empty) for v in (True, False)}
        for name in ("is_blocked", "is_staff")
    }

    def cell(name, value):
        return conditional_escape(display_for_field(value, fields[name], empty))

    # A time takes Django's localize about 80 us here. A user never changed has
    # updated_at == created_at, and users made by one statement (a bulk import)
    # share created_at: each distinct time is formatted once a page.
    times = {}

    def time_cell(name, value):
        if value not in times:
            times[value] = cell(name, value)
        return times[value]

    # Django's ModelAdmin.action_checkbox builds a CheckboxInput, its context
    # and its label for each row: the same <input>, its label looked up once a
    # page.
    checkbox = cl.list_display[0] == "action_checkbox"
    label = gettext("Select this object for an action - {}")
    rows = []
    # The values are str: escaped by html.escape(), which Django's escape() and
    # format_html() call, without their checks for lazy strings, about half of
    # a row's cost.
    for user in cl.result_list:
        key = str(user.pk)
        name = user.username  # "" (never stored) would show as Django shows it
        row = [
            f'<td class="action-checkbox"><input type="checkbox"'
            f' name="{ACTION_CHECKBOX_NAME}" value="{escape_html(key)}"'
            f' class="action-select"'
            f' aria-label="{label.format(escape_html(str(user)))}"></td>'
            if checkbox
            else "",
            f'<th class="field-username">'
            f'<a href="{head}{escape_html(quote(key))}{tail}">'
            f"{escape_html(name) if name else cell('username', name)}</a></th>",
            f'<td class="field-is_blocked">{icons["is_blocked"][user.is_blocked]}</td>',
            f'<td class="field-is_staff">{icons["is_staff"][user.is_staff]}</td>',
            f'<td class="field-created_at nowrap">'
            f"{time_cell('created_at', user.created_at)}</td>",
            f'<td class="field-updated_at nowrap">'
            f"{time_cell('updated_at', user.updated_at)}</td>",
        ]
        rows.append("".join(row))
    return rows
