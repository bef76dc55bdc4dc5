"""Sign-in lockouts in the users admin: the list says who is locked out and
until when, and a user's page shows their lockouts with an "Unlock" button for
staff with the `accounts.unlock_user` permission (audited as signin.unlocked),
so that nobody needs a shell (`make unlock`) for it.

The users admin is accounts'; sign-in's policy is here (signin.lockout), so this
app registers it again with what it adds, as Django's documentation extends
another app's ModelAdmin."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import admin as accounts_admin
from accounts.models import User
from audit.events import record
from audit.models import Kind
from signin import lockout

UNLOCK_PERMISSION = "accounts.unlock_user"


def _until(moment) -> str:
    return time_format(timezone.localtime(moment), "H:i")


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(accounts_admin.UserAdmin):
    change_form_template = "admin/signin/user_change_form.html"

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        cl = getattr(response, "context_data", {}).get("cl")
        if cl is not None:
            # The page's rows (the list renders these same objects, later):
            # whose name is locked out, in one query for the page.
            page = list(cl.result_list)
            locked = lockout.accounts_locked_until(user.username for user in page)
            for user in page:
                user.locked_until = locked.get(user.username)
        return response

    @admin.display(description=_("Can sign in"), ordering="is_blocked")
    def can_sign_in(self, obj):
        until = getattr(obj, "locked_until", None)
        if until is None or obj.is_blocked:
            return super().can_sign_in(obj)
        return accounts_admin.status_icon(
            "icon-alert.svg",
            _("No: locked out until %(time)s") % {"time": _until(until)},
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        user = self.get_object(request, object_id)
        if user is not None:
            extra_context = {
                **(extra_context or {}),
                "lockout": lockout.lockout_of(user.username),
                "may_unlock": request.user.has_perm(UNLOCK_PERMISSION),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        unlock = path(
            "<path:object_id>/unlock/",
            self.admin_site.admin_view(require_POST(self.unlock_view)),
            name="accounts_user_unlock",
        )
        return [unlock, *super().get_urls()]

    def unlock_view(self, request, object_id):
        """Clear the user's lockout, or with `ip` that address's (for any names)."""
        if not request.user.has_perm(UNLOCK_PERMISSION):
            raise PermissionDenied
        user = get_object_or_404(User, pk=object_id)
        ip = request.POST.get("ip", "")
        if ip:
            locked = {
                address for address, _ in lockout.lockout_of(user.username).addresses
            }
            if ip not in locked:
                raise PermissionDenied  # only an address that keeps this user out
            cleared = lockout.unlock_address(ip)
            self.message_user(
                request,
                _("Cleared %(n)d failed sign-ins from %(ip)s.")
                % {"n": cleared, "ip": ip},
                messages.SUCCESS,
            )
        else:
            cleared = lockout.unlock_user(user.username).cleared
            self.message_user(
                request,
                _("Cleared %(n)d failed sign-ins of %(user)s.")
                % {"n": cleared, "user": user.username},
                messages.SUCCESS,
            )
        record(
            Kind.SIGNIN_UNLOCKED,
            request,
            user=user,
            detail={"cleared": cleared, **({"address": ip} if ip else {})},
            actor=request.user,
        )
        return redirect(reverse("admin:accounts_user_change", args=[user.pk]))
