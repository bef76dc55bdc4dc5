"""Staff's second factors in the admin, to see who has which; a superuser may
reset a user's (all of them go, with the user's sessions; audited), for one who
lost their phone and their recovery codes. Nobody edits a factor here: each
user adds their own (signin/mfa_pages.py)."""

from __future__ import annotations

from django.contrib import admin, messages

from mfa import flows
from mfa.models import Passkey, TOTPDevice


class FactorAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "name")
    ordering = ("-created_at",)
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields
    actions = ("reset_factors",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_reset_permission(self, request) -> bool:
        return request.user.is_superuser

    @admin.action(
        permissions=["reset"],
        description="Reset every second factor of these users (and end their sessions)",
    )
    def reset_factors(self, request, queryset):
        users = {device.user for device in queryset.select_related("user")}
        for user in users:
            flows.reset(request, user)
        messages.success(
            request,
            f"Reset the second factors of {len(users)} user(s): "
            "each must enrol again at their next sign-in.",
        )


admin.site.register(TOTPDevice, FactorAdmin)
admin.site.register(Passkey, FactorAdmin)
