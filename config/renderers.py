"""Django's form renderer, with its simplest templates built in Python."""

from pathlib import Path

import django.forms
from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape

DJANGOS = Path(django.forms.__file__).parent / "templates"
LABEL = "django/forms/label.html"
SELECT = "django/forms/widgets/select.html"
SELECT_OPTION = "django/forms/widgets/select_option.html"
ATTRS = "django/forms/attrs.html"
WIDGET_ATTRS = "django/forms/widgets/attrs.html"
INPUT = "django/forms/widgets/input.html"
# Django's widget templates that only include input.html.
INPUTS = (
    INPUT,
    *(
        f"django/forms/widgets/{name}.html"
        for name in [
            "checkbox",
            "color",
            "date",
            "datetime",
            "email",
            "file",
            "hidden",
            "number",
            "password",
            "search",
            "tel",
            "text",
            "time",
            "url",
        ]
    ),
)
ERROR_LISTS = (
    "django/forms/errors/list/default.html",
    "django/forms/errors/list/ul.html",
)
# The templates built here, each with the templates it includes.
BUILT = {
    **{name: (INPUT, WIDGET_ATTRS) for name in INPUTS},
    LABEL: (ATTRS,),
    SELECT: (SELECT_OPTION, WIDGET_ATTRS),
    ERROR_LISTS[0]: (ERROR_LISTS[1],),
    ERROR_LISTS[1]: (),
}


def attrs_html(attrs: dict) -> str:
    """django/forms/attrs.html: True as a bare name, False left out."""
    return "".join(
        f" {conditional_escape(name)}"
        + ("" if value is True else f'="{conditional_escape(value)}"')
        for name, value in attrs.items()
        if value is not False
    )


def input_html(context: dict) -> str:
    """django/forms/widgets/input.html."""
    widget = context["widget"]
    value = widget["value"]
    return (
        f'<input type="{conditional_escape(widget["type"])}"'
        f' name="{conditional_escape(widget["name"])}"'
        + ("" if value is None else f' value="{conditional_escape(value)}"')
        + f"{attrs_html(widget['attrs'])}>"
    )


def select_html(context: dict) -> str:
    """django/forms/widgets/select.html, each option as select_option.html."""
    widget = context["widget"]
    html = [
        f'<select name="{conditional_escape(widget["name"])}"'
        f"{attrs_html(widget['attrs'])}>"
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
    return "".join(html)


def label_html(context: dict) -> str:
    """django/forms/label.html."""
    label = conditional_escape(context["label"])
    if not context["use_tag"]:
        return str(label).strip()
    tag = conditional_escape(context["tag"])
    return f"<{tag}{attrs_html(context['attrs'])}>{label}</{tag}>"


class FormRenderer(DjangoTemplates):
    """Django's DjangoTemplates renderer, with a few of its templates built here.

    A label, an <input>, a select box and an empty error list each cost one
    template render or more (a Context, includes, a loop over the attributes, a
    template per option): about 35 of them took a sixth of a user's change page
    in the admin, its 40 permissions another sixth (#12). These give the same
    text as Django's templates (the tests compare them). A template that a
    project or app overrides, or one of its includes, is rendered as usual.
    """

    def __init__(self):
        super().__init__()
        self._djangos = {}

    def render(self, template_name, context, request=None):
        if template_name in BUILT and self._is_djangos(template_name):
            if template_name in INPUTS:
                return input_html(context)
            if template_name == LABEL:
                return label_html(context)
            if template_name == SELECT and all(
                option["template_name"] == SELECT_OPTION
                for _, options, _ in context["widget"]["optgroups"]
                for option in options
            ):
                return select_html(context)
            if template_name in ERROR_LISTS and not context.get("errors"):
                return ""
        return super().render(template_name, context, request)

    def _is_djangos(self, template_name: str) -> bool:
        """Whether the name, and each name it includes, finds Django's own file."""
        if template_name not in self._djangos:
            self._djangos[template_name] = all(
                Path(self.get_template(name).origin.name) == DJANGOS / name
                for name in (template_name, *BUILT[template_name])
            )
        return self._djangos[template_name]
