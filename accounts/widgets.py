"""Select boxes built without a template per option: the same HTML as Django's."""

from django.contrib.admin.widgets import FilteredSelectMultiple
from django.forms import widgets
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString

from config.renderers import attrs_html


class TemplatelessSelect:
    """Render a select box as Django's select.html and select_option.html do.

    Django renders each option through two templates, and the box through two
    more: the 40 permissions of a user's change page took a sixth of the page,
    the actions box of the users list a tenth (#12). The tests compare this with
    Django's rendering. A widget with other templates is left to Django.
    """

    def render(self, name, value, attrs=None, renderer=None):
        if (self.template_name, self.option_template_name) != (
            widgets.Select.template_name,
            widgets.Select.option_template_name,
        ):
            return super().render(name, value, attrs, renderer)
        widget = self.get_context(name, value, attrs)["widget"]
        html = [
            f'<select name="{conditional_escape(name)}"{attrs_html(widget["attrs"])}>'
        ]
        for group_name, options, _ in widget["optgroups"]:
            if group_name:
                html.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            html += (
                f'\n  <option value="{conditional_escape(option["value"])}"'
                f"{attrs_html(option['attrs'])}>{conditional_escape(option['label'])}"
                "</option>\n"  # select_option.html's file ends with a line break
                for option in options
            )
            if group_name:
                html.append("\n  </optgroup>")
        html.append("\n</select>")
        return SafeString("".join(html))


class Select(TemplatelessSelect, widgets.Select):
    """Django's Select: the admin's actions box."""


class FilteredSelect(TemplatelessSelect, FilteredSelectMultiple):
    """Django's FilteredSelectMultiple: the groups and permissions boxes."""
