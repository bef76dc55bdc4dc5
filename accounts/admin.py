from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.forms import CharField, TextInput
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User


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
    another user's name (#9).
    """

    username = UsernameField(
        max_length=255, widget=TextInput(attrs={"autofocus": True})
    )


admin.site.login_form = LoginForm


class UserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username",)
        field_classes = {"username": UsernameField}


class UserEditForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        field_classes = {"username": UsernameField}


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    list_display = ("username", "is_blocked", "is_staff", "created_at", "updated_at")
    list_filter = ("is_blocked", "is_staff", "is_superuser")
    search_fields = ("username",)
    ordering = ("username",)
    readonly_fields = ("id", "created_at", "updated_at", "last_login")
    actions = ("block", "unblock")
    fieldsets = (
        (None, {"fields": ("id", "username", "password")}),
        (_("Status"), {"fields": ("is_blocked", "is_staff", "is_superuser")}),
        (_("Permissions"), {"fields": ("groups", "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "usable_password", "password1", "password2"),
            },
        ),
    )

    @admin.action(description=_("Block selected users"))
    def block(self, request, queryset):
        self._set_blocked(request, queryset, blocked=True)

    @admin.action(description=_("Unblock selected users"))
    def unblock(self, request, queryset):
        self._set_blocked(request, queryset, blocked=False)

    def _set_blocked(self, request, queryset, *, blocked):
        count = queryset.update(is_blocked=blocked)
        template = (
            ngettext("Blocked %d user.", "Blocked %d users.", count)
            if blocked
            else ngettext("Unblocked %d user.", "Unblocked %d users.", count)
        )
        self.message_user(request, template % count, messages.SUCCESS)
