"""The admin's forms for users: the username as typed, never normalised."""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.forms import BooleanField, CharField, TextInput
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.names import login_name


class UsernameField(CharField):
    """The username as typed: no NFKC normalisation, no stripping.

    Django's form field normalises to NFKC, which would accept the fullwidth
    backslash U+FF3C as `\\`; the model and PostgreSQL would not.
    """

    def __init__(self, **kwargs):
        super().__init__(**{**kwargs, "strip": False})


class LoginForm(AdminAuthenticationForm):
    """The admin's sign-in, looking up the username as typed, as the model stores it.

    Django's form would NFKC-normalise a fullwidth letter (U+FF4A for j) into
    another user's name.
    """

    username = UsernameField(
        max_length=255, widget=TextInput(attrs={"autofocus": True})
    )

    def clean_username(self):
        # `UNI\jsmith` and `jsmith@uni.example.edu` too, as the API takes them.
        return login_name(self.cleaned_data["username"])


class UserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username",)
        field_classes = {"username": UsernameField}


class UserEditForm(UserChangeForm):
    end_sessions = BooleanField(
        label=_("End all sessions"),
        required=False,
        help_text=_("Sign this user out everywhere when saving."),
    )

    class Meta(UserChangeForm.Meta):
        model = User
        field_classes = {"username": UsernameField}
