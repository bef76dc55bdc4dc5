"""The admin's two-box selectors (groups, permissions), no template per option."""

from django.contrib.admin.widgets import FilteredSelectMultiple
from django.forms.widgets import SelectMultiple
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString


class FilteredSelect(FilteredSelectMultiple):
    """Django's FilteredSelectMultiple, its HTML built here, the same byte for byte.

    Django renders each option through two templates: for the 40 permissions of
    a user's change page, a sixth of the page (#12). The tests compare this with
    Django's rendering. Options of another template are left to Django.
    """

    def render(self, name, value, attrs=None, renderer=None):
        if self.option_template_name != SelectMultiple.option_template_name:
            return super().render(name, value, attrs, renderer)
        widget = self.get_context(name, value, attrs)["widget"]
        html = [f'<select name="{conditional_escape(name)}"{_attrs(widget["attrs"])}>']
        for group_name, options, _ in widget["optgroups"]:
            if group_name:
                html.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            html += (
                f'\n  <option value="{conditional_escape(option["value"])}"'
                f"{_attrs(option['attrs'])}>{conditional_escape(option['label'])}"
                "</option>\n"  # select_option.html's file ends with a line break
                for option in options
            )
            if group_name:
                html.append("\n  </optgroup>")
        html.append("\n</select>")
        return SafeString("".join(html))


def _attrs(attrs: dict) -> str:
    """django/forms/widgets/attrs.html: True as a bare name, False left out."""
    return "".join(
        f" {conditional_escape(name)}"
        + ("" if value is True else f'="{conditional_escape(value)}"')
        for name, value in attrs.items()
        if value is not False
    )
