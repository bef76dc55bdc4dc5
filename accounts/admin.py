from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.models import CHANGE, LogEntry
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

    # Only a superuser grants or holds every right: others may neither change
    # these fields nor edit a superuser (#9).
    SUPERUSER_FIELDS = ("is_superuser", "groups", "user_permissions")

    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj)]
        if not request.user.is_superuser:
            fields += self.SUPERUSER_FIELDS
        if obj is not None and obj.pk == request.user.pk:
            fields.append("is_blocked")  # nobody blocks themselves
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description=_("Block selected users"), permissions=["change"])
    def block(self, request, queryset):
        self._set_blocked(request, queryset, blocked=True)

    @admin.action(description=_("Unblock selected users"), permissions=["change"])
    def unblock(self, request, queryset):
        self._set_blocked(request, queryset, blocked=False)

    def _set_blocked(self, request, queryset, *, blocked):
        if blocked and queryset.filter(pk=request.user.pk).exists():
            self.message_user(request, _("You cannot block yourself."), messages.ERROR)
            queryset = queryset.exclude(pk=request.user.pk)
        if (
            not request.user.is_superuser
            and queryset.filter(is_superuser=True).exists()
        ):
            self.message_user(
                request,
                _("Only a superuser can block or unblock a superuser."),
                messages.ERROR,
            )
            queryset = queryset.exclude(is_superuser=True)
        changed = list(queryset.exclude(is_blocked=blocked))
        count = queryset.model.objects.filter(
            pk__in=[user.pk for user in changed]
        ).update(is_blocked=blocked)
        # update() skips save() and so the admin history: record each user there.
        LogEntry.objects.log_actions(
            user_id=request.user.pk,
            queryset=changed,
            action_flag=CHANGE,
            change_message=str(_("Blocked.") if blocked else _("Unblocked.")),
        )
        template = (
            ngettext("Blocked %d user.", "Blocked %d users.", count)
            if blocked
            else ngettext("Unblocked %d user.", "Unblocked %d users.", count)
        )
        self.message_user(request, template % count, messages.SUCCESS)
