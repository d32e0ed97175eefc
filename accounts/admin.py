"""Admin for the Telegram account pool and the join targets.

Thin: the join action starts jobs through `services.starters`, the import page
calls `services.imports`. Account secrets (phone, api_id, api_hash,
string_session, proxy_url) are `EncryptedTextField`s: the change form shows
them only as "set / not set" (write-only), and no list column, read-only field
or message ever shows them.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leadops import ratelimit
from leadops.admin_tools import future_time
from leadops.secret_widgets import CLEAR, KEEP
from telegram_sources.limits import limiter_key

from .models import TelegramAccount
from .services.credential_checks import api_id_problem, check_account_credentials, proxy_problem

# --- accounts ---------------------------------------------------------------------------------


class TelegramAccountForm(forms.ModelForm):
    """Checks the shape of a newly typed api_id or proxy URL; errors never quote what was typed."""

    class Meta:
        model = TelegramAccount
        fields = (  # the admin narrows this to its fieldsets; the secrets' widget is write-only
            "session_name",
            "status",
            "next_allowed_action_time",
            "api_id",
            "api_hash",
            "string_session",
            "proxy_url",
            "phone",
        )

    def clean_api_id(self):
        value = self.cleaned_data.get("api_id")
        if value not in (KEEP, CLEAR, None, "") and (problem := api_id_problem(value)):
            raise forms.ValidationError(gettext("api_id %(problem)s.") % {"problem": problem})
        return value.strip() if isinstance(value, str) else value

    def clean_proxy_url(self):
        value = self.cleaned_data.get("proxy_url")
        if value not in (KEEP, CLEAR, None, "") and (problem := proxy_problem(value)):
            raise forms.ValidationError(gettext("The proxy URL %(problem)s.") % {"problem": problem})
        return value.strip() if isinstance(value, str) else value


@admin.register(TelegramAccount)
class TelegramAccountAdmin(admin.ModelAdmin):
    form = TelegramAccountForm
    list_display = (
        "session_name",
        "status",
        "comes_back",
        "channels_joined_count",
        "joins_last_24h",
        "last_action_at",
        "last_error_short",
    )
    list_filter = ("status",)
    search_fields = ("session_name",)
    fieldsets = (
        (None, {"fields": ("session_name", "status", "next_allowed_action_time", "comes_back")}),
        (
            _("Credentials (write-only: leave a field empty to keep what is stored)"),
            {"fields": ("api_id", "api_hash", "string_session", "proxy_url", "phone")},
        ),
        (
            _("Activity"),
            {
                "fields": (
                    "channels_joined_count",
                    "joins_last_24h",
                    "last_action_at",
                    "last_error",
                    "locked_by",
                    "locked_until",
                    "created_at",
                )
            },
        ),
    )
    # Never a secret field here: a read-only field is rendered as its value.
    readonly_fields = (
        "comes_back",
        "channels_joined_count",
        "joins_last_24h",
        "last_action_at",
        "last_error",
        "locked_by",
        "locked_until",
        "created_at",
    )
    actions = ("disable", "clear_cooldown", "check_session")

    def get_queryset(self, request):
        day_ago = timezone.now() - timedelta(hours=24)
        return (
            super().get_queryset(request).annotate(joins_24h=Count("targets", filter=Q(targets__joined_at__gt=day_ago)))
        )

    @admin.display(description=_("comes back"), ordering="next_allowed_action_time")
    def comes_back(self, account):
        return future_time(account.next_allowed_action_time)

    @admin.display(description=_("joins in last 24 h"), ordering="joins_24h")
    def joins_last_24h(self, account):
        return getattr(account, "joins_24h", "—")  # annotated by get_queryset (list and change page)

    @admin.display(description=_("last error"), ordering="last_error")
    def last_error_short(self, account):
        return Truncator(account.last_error).chars(60) if account.last_error else "—"

    @admin.action(description=_("Disable (never used for joins until re-enabled)"), permissions=["change"])
    def disable(self, request, queryset):
        accounts = list(queryset.exclude(status=TelegramAccount.Status.DISABLED))
        TelegramAccount.objects.filter(pk__in=[a.pk for a in accounts]).update(status=TelegramAccount.Status.DISABLED)
        for account in accounts:
            self.log_change(request, account, "Disabled (admin action)")
        self.message_user(
            request,
            gettext(
                "%(count)s account(s) disabled. A join already under way with one of them finishes; "
                "set the status back to active on the account's page to use it again."
            )
            % {"count": len(accounts)},
            messages.SUCCESS,
        )

    @admin.action(description=_("Clear cooldown (active now)"), permissions=["change"])
    def clear_cooldown(self, request, queryset):
        waiting = Q(status__in=[TelegramAccount.Status.COOLDOWN, TelegramAccount.Status.FLOOD_WAIT]) | Q(
            status=TelegramAccount.Status.ACTIVE, next_allowed_action_time__isnull=False
        )
        accounts = list(queryset.filter(waiting))
        left = queryset.exclude(pk__in=[a.pk for a in accounts]).exclude(status=TelegramAccount.Status.ACTIVE)
        TelegramAccount.objects.filter(pk__in=[a.pk for a in accounts]).update(
            status=TelegramAccount.Status.ACTIVE, next_allowed_action_time=None
        )
        for account in accounts:
            before = f"{account.status}" + (
                f" until {account.next_allowed_action_time:%Y-%m-%d %H:%M} UTC"
                if account.next_allowed_action_time
                else ""
            )
            self.log_change(request, account, f"Cooldown cleared (was {before}); status active")
        self.message_user(
            request, gettext("Cooldown cleared on %(count)s account(s).") % {"count": len(accounts)}, messages.SUCCESS
        )
        if blocked := [a.session_name for a in accounts if ratelimit.blocked_until(limiter_key(a.session_name))]:
            self.message_user(
                request,
                gettext(
                    "Still blocked by Telegram's own FloodWait in the rate limiter: %(names)s. "
                    "The joiner skips them until that block runs out."
                )
                % {"names": ", ".join(blocked)},
                messages.WARNING,
            )
        if names := [f"{a.session_name} ({a.status})" for a in left]:
            self.message_user(
                request,
                gettext("Left as they are (not cooling down): %(names)s. Change their status on their page.")
                % {"names": ", ".join(names)},
                messages.WARNING,
            )

    @admin.action(description=_("Check session (credentials only, no Telegram request)"), permissions=["view"])
    def check_session(self, request, queryset):
        for account in queryset:
            check = check_account_credentials(account)
            self.message_user(request, check.message, messages.SUCCESS if check.ok else messages.ERROR)


# The join-target admin lives in its own module; importing it registers it.
from . import target_admin  # noqa: E402,F401
