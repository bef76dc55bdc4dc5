"""The admin's second-factor pages, in the admin's look (templates extending
admin/base_site.html): the second step after the password
(`/admin/second-factor/`), and the factors of one's own (`.../setup/`): add an
authenticator app (QR code) or a passkey, new recovery codes, remove one.

mfa.middleware sends a half-done sign-in here from any admin page. Passkeys
go through the API's calls (signin/mfa_api.py) from signin/static/signin/passkey.js.
Adding, removing and new codes need a recent authentication (signin.reauth):
the sign-in's own, or the password asked again on the page.
"""

from __future__ import annotations

from base64 import b32encode

import segno
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from mfa import flows
from mfa.models import RecoveryCode, TOTPDevice
from signin.mfa_api import otpauth_url
from signin.reauth import (
    ReauthenticationRequired,
    record_authentication,
    require_recent_authentication,
)


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=64,
        help_text="The six digits your authenticator app shows, or a recovery code.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True}
        ),
    )


class PasswordForm(forms.Form):
    password = forms.CharField(
        label="Your password", required=False, widget=forms.PasswordInput
    )


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("admin:index")


def _page(request, template: str, title: str, **context) -> TemplateResponse:
    return TemplateResponse(
        request,
        template,
        {**admin.site.each_context(request), "title": title, **context},
    )


@never_cache
@csrf_protect
def verify(request: HttpRequest):
    """The second step: a code, or a passkey (the page's button)."""
    user = flows.pending_user(request)
    if user is None:
        if request.user.is_authenticated:
            return redirect(_next(request))
        return redirect(f"{reverse('admin:login')}?next={_next(request)}")
    methods = flows.methods(user)
    if not methods:
        return redirect(f"{reverse('mfa-setup')}?next={_next(request)}")
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            device = flows.verify_code(request, form.cleaned_data["code"])
        except flows.Throttled as exc:
            form.add_error(
                None,
                f"Too many wrong codes: try again in {exc.retry_after} seconds.",
            )
            status = 429
        else:
            if device is not None:
                flows.complete(request, device)
                return redirect(_next(request))
            form.add_error("code", "That code is not right, or was used already.")
            status = 401
    response = _page(
        request,
        "signin/mfa_verify.html",
        "Second step",
        form=form,
        methods=methods,
        next=_next(request),
        pending=user,
    )
    response.status_code = status
    return response


def _owner(request: HttpRequest):
    """The user whose factors this page shows: signed in, or a half-done sign-in
    of one who has no factor yet (enrolling); else None."""
    if request.user.is_authenticated:
        return request.user
    pending = flows.pending_user(request)
    if pending is not None and not flows.methods(pending):
        return pending
    return None


def _recent(request: HttpRequest, user, password: str) -> bool:
    """Recently authenticated, or now, by the password given again."""
    if _is_recent(request):
        return True
    if (
        password
        and authenticate(request, username=user.get_username(), password=password)
        == user
    ):
        record_authentication(request)
        return True
    return False


@never_cache
@csrf_protect
def setup(request: HttpRequest):
    """One's factors: add, remove, new recovery codes."""
    user = _owner(request)
    if user is None:
        if flows.pending_user(request) is not None:
            return redirect(f"{reverse('mfa-verify')}?next={_next(request)}")
        return redirect(f"{reverse('admin:login')}?next={request.get_full_path()}")
    if not (flows.may_enrol(user) or flows.methods(user)):
        messages.warning(request, "A second factor is not offered to your account.")
        return redirect(reverse("admin:index"))
    context = {"next": _next(request), "owner": user, "recovery_codes": []}
    password = PasswordForm(request.POST or None)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "confirm_totp":
            response = _confirm_totp(request, user, context)
            if response is not None:
                return response
        elif not password.is_valid() or not _recent(
            request, user, password.cleaned_data["password"]
        ):
            password.add_error("password", "Confirm your password to go on.")
        elif action == "start_totp":
            device = flows.start_totp(user, request.POST.get("name", "")[:64])
            context["new_totp"] = _totp_context(user, device)
        elif action == "recovery_codes":
            context["recovery_codes"] = flows.new_recovery_codes(request, user)
        elif action == "remove":
            device = flows.find_device(user, request.POST.get("device", ""))
            if device is not None:
                flows.remove(request, user, device)
                messages.success(request, f"Removed “{device.name}”.")
                return redirect(request.get_full_path())
    left = RecoveryCode.objects.filter(codes__user=user).count()
    return _page(
        request,
        "signin/mfa_setup.html",
        "Second factor",
        devices=flows.devices(user),
        required=flows.required(user),
        recovery_codes_left=left,
        password_form=password,
        needs_password=not _is_recent(request),
        **context,
    )


def _is_recent(request) -> bool:
    try:
        require_recent_authentication(request)
    except ReauthenticationRequired:
        return False
    return True


def _totp_context(user, device: TOTPDevice) -> dict:
    url = otpauth_url(user, device)
    return {
        "id": device.public_id,
        "secret": b32encode(device.key).decode().rstrip("="),
        "qr_svg": segno.make(url, error="m").svg_inline(scale=4, title="QR code"),
    }


def _confirm_totp(request, user, context):
    device = flows.find_device(user, request.POST.get("device", ""))
    if not isinstance(device, TOTPDevice) or device.confirmed:
        messages.error(request, "Start again: that authenticator app was not found.")
        return redirect(request.get_full_path())
    form = CodeForm(request.POST)
    codes = flows.confirm_totp(request, user, device, form.data.get("code", ""))
    if codes is None:
        context["new_totp"] = _totp_context(user, device)
        context["totp_error"] = "That code is not right: try the one shown now."
        return None
    messages.success(request, f"Added “{device.name}”.")
    if codes:
        context["recovery_codes"] = codes
        return None
    return redirect(request.get_full_path())
