"""Django's form renderer, with its simplest templates built in Python."""

from pathlib import Path

import django.forms
from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape

DJANGOS = Path(django.forms.__file__).parent / "templates"
LABEL = "django/forms/label.html"
# Django's input.html, and its widget templates that only include it.
INPUTS = tuple(
    f"django/forms/widgets/{name}.html"
    for name in [
        "input",
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
)
ERROR_LISTS = (
    "django/forms/errors/list/default.html",
    "django/forms/errors/list/ul.html",
)


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


def label_html(context: dict) -> str:
    """django/forms/label.html."""
    label = conditional_escape(context["label"])
    if not context["use_tag"]:
        return str(label).strip()
    tag = conditional_escape(context["tag"])
    return f"<{tag}{attrs_html(context['attrs'])}>{label}</{tag}>"


class FormRenderer(DjangoTemplates):
    """Django's DjangoTemplates renderer, with a few of its templates built here.

    A label, an <input> and an empty error list each cost a template render (a
    Context, an include, a loop over the attributes): about 35 of them took a
    sixth of a user's change page in the admin (#12). These give the same text
    as Django's templates (the tests compare them). A template that a project or
    app overrides is rendered as usual.
    """

    def __init__(self):
        super().__init__()
        self._djangos = {}

    def render(self, template_name, context, request=None):
        if self._is_djangos(template_name):
            if template_name in INPUTS:
                return input_html(context)
            if template_name == LABEL:
                return label_html(context)
            if template_name in ERROR_LISTS and not context.get("errors"):
                return ""
        return super().render(template_name, context, request)

    def _is_djangos(self, template_name: str) -> bool:
        """Whether the name finds Django's own file (a few names are built here)."""
        if template_name not in self._djangos:
            built = (*INPUTS, LABEL, *ERROR_LISTS)
            self._djangos[template_name] = template_name in built and (
                Path(self.get_template(template_name).origin.name)
                == DJANGOS / template_name
            )
        return self._djangos[template_name]
