"""The form renderer builds a few of Django's templates in Python: the same text."""

import re

import pytest
from django import forms
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.forms.renderers import DjangoTemplates
from django.forms.utils import ErrorList
from django.utils.safestring import SafeString

from accounts.models import User
from config.renderers import ERROR_LISTS, INPUTS, LABEL, SELECT, FormRenderer

WIDGETS = [
    forms.TextInput,
    forms.CheckboxInput,
    forms.HiddenInput,
    forms.NumberInput,
    forms.EmailInput,
    forms.URLInput,
    forms.PasswordInput,
    forms.DateInput,
    forms.DateTimeInput,
    forms.TimeInput,
    forms.FileInput,
    forms.SearchInput,
    forms.TelInput,
    forms.ColorInput,
]
VALUES = [None, "", "plain", "a<b>&\"c'", SafeString("<i>safe</i>"), 5, True, False]
ATTRS = {"id": "id_x", "required": True, "disabled": False, "class": 'v"x'}


def both(template_name, context):
    return (
        FormRenderer().render(template_name, context),
        DjangoTemplates().render(template_name, context),
    )


@pytest.mark.parametrize("widget", WIDGETS)
@pytest.mark.parametrize("value", VALUES)
def test_inputs__render_as_djangos(widget, value):
    context = widget(ATTRS).get_context("name<", value, {"title": "t&t"})
    ours, theirs = both(widget.template_name, context)
    assert ours == theirs
    assert ours.startswith("<input ")


@pytest.mark.parametrize("template_name", INPUTS)
def test_each_input_template__is_djangos_input(template_name):
    context = forms.TextInput(ATTRS).get_context("name", 'v"1', None)
    ours, theirs = both(template_name, context)
    assert (
        ours
        == theirs
        == (
            '<input type="text" name="name" value="v&quot;1" id="id_x" required'
            ' class="v&quot;x">'
        )
    )


CHOICES = [
    ("", "---------"),
    (1, '<b>&"staff"'),
    (2, "counsellors"),
    ("Optgroup <x>", [("a", "A & B"), ("b", SafeString("<i>B</i>"))]),
]


class RadioOptions(forms.Select):
    """Options of another template: rendered by Django's templates."""

    option_template_name = "django/forms/widgets/radio_option.html"


SELECTS = [
    forms.Select(ATTRS, choices=CHOICES),
    RadioOptions(choices=CHOICES),
    forms.SelectMultiple(ATTRS, choices=CHOICES),
    FilteredSelectMultiple("groups", False, ATTRS, choices=CHOICES),
    FilteredSelectMultiple("groups", True, choices=CHOICES),
]


@pytest.mark.parametrize(
    ("widget", "value"),
    [
        *(
            (widget, value)
            for widget in SELECTS
            for value in [None, "", "b", [1, "b"], ["unknown"], True]
        ),
        *((forms.NullBooleanSelect(), value) for value in [None, "", True, "false"]),
    ],
)
def test_selects__render_as_djangos(widget, value):
    context = widget.get_context("name<", value, {"id": "id_x", "disabled": True})
    ours, theirs = both(widget.template_name, context)
    assert widget.template_name == SELECT
    assert ours == theirs
    assert ours.count("<option") == theirs.count("<option")
    assert ours.count("<option") + ours.count("<input") > 1


@pytest.mark.parametrize("use_tag", [True, False])
@pytest.mark.parametrize("tag", ["label", "legend"])
@pytest.mark.parametrize("label", ["Name:", "<b>&", SafeString("<i>Safe</i>:"), " x "])
def test_labels__render_as_djangos(use_tag, tag, label):
    context = {
        "field": None,
        "label": label,
        "attrs": {"for": "id_x", "class": "required", "hidden": True, "off": False},
        "use_tag": use_tag,
        "tag": tag,
    }
    ours, theirs = both(LABEL, context)
    assert ours == theirs


@pytest.mark.parametrize("template_name", ERROR_LISTS)
@pytest.mark.parametrize("errors", [[], ["Bad <value>.", "Another."]])
def test_error_lists__render_as_djangos(template_name, errors):
    context = ErrorList(errors, field_id="id_x").get_context()
    ours, theirs = both(template_name, context)
    assert ours == theirs
    assert bool(ours) is bool(errors)


def test_an_overridden_template__is_rendered_as_usual(tmp_path):
    (tmp_path / "django/forms/widgets").mkdir(parents=True)
    (tmp_path / "django/forms/widgets/text.html").write_text("<b>{{ widget.name }}</b>")
    # An include overridden: select.html's options.
    (tmp_path / "django/forms/widgets/select_option.html").write_text(
        "<p>{{ widget.label }}</p>"
    )

    class Overridden(FormRenderer):
        @property
        def engine(self):
            return self.backend(
                {
                    "APP_DIRS": True,
                    "DIRS": [tmp_path, *DjangoTemplates().engine.dirs],
                    "NAME": "overridden",
                    "OPTIONS": {},
                }
            )

    context = forms.TextInput().get_context("name", "v", None)
    assert Overridden().render("django/forms/widgets/text.html", context) == (
        "<b>name</b>"
    )
    assert (
        Overridden()
        .render("django/forms/widgets/hidden.html", context)
        .startswith('<input type="text"')
    )
    select = forms.Select(choices=CHOICES).get_context("name", "b", None)
    assert "<p>counsellors</p>" in Overridden().render(SELECT, select)


@pytest.mark.django_db
def test_admin_pages__are_djangos_byte_for_byte(client, settings):
    admin = User.objects.create_superuser("\\corp\\admin", password="admin-pass-1")
    user = User.objects.create_user("\\uni\\<b>&jsmith", password="pw-12345678")
    client.force_login(admin)

    def pages():
        answers = [
            client.get(f"/admin/accounts/user/{user.pk}/change/"),
            client.get("/admin/accounts/user/add/"),
            client.post(
                "/admin/accounts/user/add/",
                {"username": "bad", "password1": "a", "password2": "b"},
            ),
            client.get("/admin/auth/group/add/"),
        ]
        return [
            re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", a.content.decode())
            for a in answers
        ]

    assert settings.FORM_RENDERER == "config.renderers.FormRenderer"
    ours = pages()
    settings.FORM_RENDERER = "django.forms.renderers.DjangoTemplates"
    assert pages() == ours
    assert 'class="errorlist"' in ours[2]
