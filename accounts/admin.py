from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.templatetags.static import static
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.forms import LoginForm, UserCreationForm, UserEditForm
from accounts.models import LookalikeApproval, NaturalKey, Session, User
from core.paginators import UserPaginator

admin.site.login_form = LoginForm

# Staff and superusers: only a superuser may change, block, delete or set the
# password of one, so that staff cannot become each other (or a superuser).
GUARDED = Q(is_staff=True) | Q(is_superuser=True)


def _guarded_from(request, user) -> bool:
    """Whether `user` is staff or a superuser that the requester may not change."""
    return (user.is_staff or user.is_superuser) and not request.user.is_superuser


def status_icon(icon: str, text: str) -> str:
    """The admin's icon `icon` (icon-yes.svg, icon-alert.svg ...) before `text`."""
    return format_html(
        '<img src="{}" alt="" width="13" height="13"> {}',
        static(f"admin/img/{icon}"),
        text,
    )


def short_time(moment) -> str:
    """A time to the minute in the admin's time zone, on one line: the list's
    columns fit beside its filter panel at 1280 px."""
    if moment is None:
        return "-"
    return format_html(
        '<time datetime="{}" class="nowrap">{}</time>',
        moment.isoformat(),
        f"{timezone.localtime(moment):%Y-%m-%d %H:%M}",
    )


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    paginator = UserPaginator
    # A page renders in ~1 ms a row (Django's row templates): 50 keep a page of
    # 1,000,000 users under 150 ms through nginx (make bench ARGS="--only admin_scale").
    list_per_page = 50
    # The "N total" beside a search is a second COUNT(*) of the whole table.
    show_full_result_count = False
    add_form = UserCreationForm
    list_display = (
        "login",
        "display_name",
        "can_sign_in",
        # Staff status is a filter: the columns fit beside it at 1280 px.
        "last_signed_in",
        "created",
    )
    list_filter = ("is_blocked", "is_staff", "is_superuser")
    # Any case, any accent: `MULLER` finds `müller` (accounts.search).
    search_fields = ("username__foldcontains", "display_name__foldcontains")
    # Natural order (adavis2 before adavis10), read from idx_users_natural_order;
    # the name after its key is unique, so Django adds no tiebreaker on the id.
    ordering = (NaturalKey("username"), "username")
    readonly_fields = (
        "id",
        "signs_in_with",
        "directory_guid",
        "created_at",
        "updated_at",
        "last_login",
        "session_table",
    )
    actions = ("block", "unblock", "end_all_sessions")
    fieldsets = (
        (None, {"fields": ("id", "username", "password", "signs_in_with")}),
        (_("Directory"), {"fields": ("display_name", "email", "directory_guid")}),
        (_("Status"), {"fields": ("is_blocked", "is_staff", "is_superuser")}),
        (_("Sessions"), {"fields": ("session_table", "end_sessions")}),
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
    # these fields nor edit a superuser.
    SUPERUSER_FIELDS = ("is_superuser", "groups", "user_permissions")

    @admin.display(description=_("Sessions"))
    def session_table(self, user):
        """List the user's live sessions, never their keys (each is a credential)."""
        rows = user.sessions.live().order_by("-last_seen_at")
        if not rows:
            return _("None")
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            _("Created"),
            _("Last seen"),
            _("IP address"),
            _("User agent"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        localize(timezone.localtime(row.created_at)),
                        localize(timezone.localtime(row.last_seen_at)),
                        row.ip or "",
                        row.user_agent,
                    )
                    for row in rows
                ),
            ),
        )

    # A search that matches at most this many users is counted and paged by key.
    SEARCH_KEYS_UP_TO = 1000

    def get_search_results(self, request, queryset, search_term):
        """Search usernames as Django does, reading the name indexes once.

        The list counts its results, then reads its page: two searches of the
        trigram index. The matching keys are found once instead: the page reads
        those rows by key, and the count is theirs (up to SEARCH_KEYS_UP_TO).

        Every username has exactly two backslashes, the first at its start (the
        users_username_format CHECK), so a term with two can only be found at
        the start of a name: "contains" is "starts with" for it, which a prefix
        scan of idx_users_username_upper answers. Other terms fold case and
        accents (accounts.search).
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.count("\\") < 2 or len(term.split()) != 1:
            found, may_have_duplicates = super().get_search_results(
                request, queryset, search_term
            )
        elif term.startswith("\\") and term.count("\\") == 2:
            # A whole name, as typed in any case: a prefix scan of
            # idx_users_username_upper (logins are written without accents).
            found, may_have_duplicates = (
                queryset.filter(username__istartswith=term),
                False,
            )
        else:
            return queryset.none(), False  # no name holds such a part
        keys = list(
            found.order_by().values_list("pk", flat=True)[: self.SEARCH_KEYS_UP_TO + 1]
        )
        if len(keys) > self.SEARCH_KEYS_UP_TO:
            return found, may_have_duplicates
        # The list's count is the number of keys: no COUNT(*) (get_paginator).
        request.user_search_count = len(set(keys))
        # The keys as one array parameter, not a placeholder each to parse.
        key_type = self.model._meta.pk.db_type(connection)
        in_keys = RawSQL(f"SELECT unnest(%s::{key_type}[])", [keys])  # noqa: S611 - the keys are a parameter
        return queryset.filter(pk__in=in_keys), False

    def get_paginator(self, request, queryset, per_page, *args, **kwargs):
        paginator = super().get_paginator(request, queryset, per_page, *args, **kwargs)
        if (count := getattr(request, "user_search_count", None)) is not None:
            paginator.count = count  # a cached_property: set, it is not computed
        return paginator

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # "End all sessions" is among the form's changed fields, so the admin
        # history records it with the rest of the change.
        if change and form.cleaned_data.get("end_sessions"):
            obj.sessions.all().delete()

    @admin.display(description=_("username"), ordering=NaturalKey("username"))
    def login(self, obj):
        return obj.username

    @admin.display(description=_("Can sign in"), ordering="is_blocked")
    def can_sign_in(self, obj):
        """Yes or no and why, with an icon that means it: blocked is a warning,
        not the green tick a boolean column would give it."""
        if obj.is_blocked:
            icon, text = "icon-alert.svg", _("No: blocked")
        elif not obj.signs_in_with_directory and not obj.has_usable_password():
            icon, text = "icon-alert.svg", _("No: no password")
        elif obj.signs_in_with_directory:
            icon, text = "icon-yes.svg", _("Yes, with the directory")
        else:
            icon, text = "icon-yes.svg", _("Yes")
        return status_icon(icon, text)

    @admin.display(description=_("Last sign-in"), ordering="last_login")
    def last_signed_in(self, obj):
        return short_time(obj.last_login)

    @admin.display(description=_("Created"), ordering="created_at")
    def created(self, obj):
        return short_time(obj.created_at)

    @admin.display(description=_("Signs in with"))
    def signs_in_with(self, obj):
        if obj.signs_in_with_directory:
            domain = obj.username.split("\\")[1]
            return _("the password of the %(domain)s directory") % {"domain": domain}
        return _("a local password")

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        # Read-only: no "End all sessions" box to show.
        return [
            (
                name,
                {
                    **options,
                    "fields": [f for f in options["fields"] if f != "end_sessions"],
                },
            )
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj)]
        if not request.user.is_superuser:
            fields += self.SUPERUSER_FIELDS
        if obj is not None and obj.pk == request.user.pk:
            fields.append("is_blocked")  # nobody blocks themselves
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and _guarded_from(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and _guarded_from(request, obj):
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description=_("Block selected users"), permissions=["change"])
    def block(self, request, queryset):
        self._set_blocked(request, queryset, blocked=True)

    @admin.action(description=_("Unblock selected users"), permissions=["change"])
    def unblock(self, request, queryset):
        self._set_blocked(request, queryset, blocked=False)

    @admin.action(
        description=_("End all sessions of selected users"), permissions=["change"]
    )
    def end_all_sessions(self, request, queryset):
        if not request.user.is_superuser:
            queryset = queryset.exclude(GUARDED)
        users = list(queryset.filter(sessions__isnull=False).distinct())
        ended = Session.objects.filter(user__in=users).delete()[0]
        LogEntry.objects.log_actions(
            user_id=request.user.pk,
            queryset=users,
            action_flag=CHANGE,
            change_message=str(_("Ended all sessions.")),
        )
        self.message_user(
            request,
            ngettext(
                "Ended %(sessions)d session of %(users)d user.",
                "Ended %(sessions)d sessions of %(users)d users.",
                ended,
            )
            % {"sessions": ended, "users": len(users)},
            messages.SUCCESS,
        )

    def _set_blocked(self, request, queryset, *, blocked):
        if blocked and queryset.filter(pk=request.user.pk).exists():
            self.message_user(request, _("You cannot block yourself."), messages.ERROR)
            queryset = queryset.exclude(pk=request.user.pk)
        if not request.user.is_superuser and queryset.filter(GUARDED).exists():
            self.message_user(
                request,
                _("Only a superuser can block or unblock staff or a superuser."),
                messages.ERROR,
            )
            queryset = queryset.exclude(GUARDED)
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


@admin.register(LookalikeApproval)
class LookalikeApprovalAdmin(admin.ModelAdmin):
    """Names approved as look-alikes of another user's (sync_directory and
    import_users --allow-lookalike): read-only, as the database has it (only the
    owner role may write the table)."""

    list_display = ("username", "looks_like", "approved_by", "approved_at")
    search_fields = ("username", "looks_like")
    ordering = ("-approved_at",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
