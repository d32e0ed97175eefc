"""Admin for the Telegram account pool and the join targets.

Thin: the join action starts jobs through `services.starters`, the import page
calls `services.imports`. Account secrets (phone, api_id, api_hash,
string_session, proxy_url) are `EncryptedTextField`s: the change form shows
them only as "set / not set" (write-only), and no list column, read-only field
or message ever shows them.
"""

from collections import defaultdict
from datetime import timedelta
from math import ceil

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.text import Truncator

from leadops import ratelimit
from leadops.secret_widgets import CLEAR, KEEP
from telegram_sources.limits import limiter_key

from .models import JoinTarget, TelegramAccount
from .services.imports import (
    TargetImportError,
    api_id_problem,
    check_account_credentials,
    import_targets,
    parse_target_csv,
    parse_target_text,
    proxy_problem,
)
from .services.starters import JOIN_KIND, MAX_BATCH_SIZE, active_join_job, start_join_batch

CSV_MAX_BYTES = 2 * 1024 * 1024


def countdown(delta: timedelta) -> str:
    """`in 2 h 13 min`, `in 5 min`, `in 3 d 4 h`; rounded up to the minute (it is not back any earlier)."""
    minutes = max(1, ceil(delta.total_seconds() / 60))
    if minutes >= 24 * 60:  # days and hours, the hours rounded up as well
        days, hours = divmod(ceil(minutes / 60), 24)
        return f"in {days} d {hours} h" if hours else f"in {days} d"
    hours, minutes = divmod(minutes, 60)
    return "in " + " ".join(([f"{hours} h"] if hours else []) + ([f"{minutes} min"] if minutes else []))


def future_time(value, *, now=None) -> str:
    """A moment with its countdown when it is still ahead; "—" when unset or past."""
    now = now or timezone.now()
    if not value or value <= now:
        return "—"
    return format_html('<span title="{} UTC">{}</span>', f"{value:%Y-%m-%d %H:%M}", countdown(value - now))


def jobrun_url(job) -> str:
    return reverse("admin:leadops_jobrun_change", args=[job.pk])


def job_links(jobs) -> str:
    return format_html_join(", ", '<a href="{}">#{} {}</a>', ((jobrun_url(job), job.pk, job.target) for job in jobs))


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
            raise forms.ValidationError(f"api_id {problem}.")
        return value.strip() if isinstance(value, str) else value

    def clean_proxy_url(self):
        value = self.cleaned_data.get("proxy_url")
        if value not in (KEEP, CLEAR, None, "") and (problem := proxy_problem(value)):
            raise forms.ValidationError(f"The proxy URL {problem}.")
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
            "Credentials (write-only: leave a field empty to keep what is stored)",
            {"fields": ("api_id", "api_hash", "string_session", "proxy_url", "phone")},
        ),
        (
            "Activity",
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

    @admin.display(description="comes back", ordering="next_allowed_action_time")
    def comes_back(self, account):
        return future_time(account.next_allowed_action_time)

    @admin.display(description="joins in last 24 h", ordering="joins_24h")
    def joins_last_24h(self, account):
        return getattr(account, "joins_24h", "—")  # annotated by get_queryset (list and change page)

    @admin.display(description="last error", ordering="last_error")
    def last_error_short(self, account):
        return Truncator(account.last_error).chars(60) if account.last_error else "—"

    @admin.action(description="Disable (never used for joins until re-enabled)", permissions=["change"])
    def disable(self, request, queryset):
        accounts = list(queryset.exclude(status=TelegramAccount.Status.DISABLED))
        TelegramAccount.objects.filter(pk__in=[a.pk for a in accounts]).update(status=TelegramAccount.Status.DISABLED)
        for account in accounts:
            self.log_change(request, account, "Disabled (admin action)")
        self.message_user(
            request,
            f"{len(accounts)} account(s) disabled. A join already under way with one of them finishes; "
            "set the status back to active on the account's page to use it again.",
            messages.SUCCESS,
        )

    @admin.action(description="Clear cooldown (active now)", permissions=["change"])
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
        self.message_user(request, f"Cooldown cleared on {len(accounts)} account(s).", messages.SUCCESS)
        if blocked := [a.session_name for a in accounts if ratelimit.blocked_until(limiter_key(a.session_name))]:
            self.message_user(
                request,
                f"Still blocked by Telegram's own FloodWait in the rate limiter: {', '.join(blocked)}. "
                "The joiner skips them until that block runs out.",
                messages.WARNING,
            )
        if names := [f"{a.session_name} ({a.status})" for a in left]:
            self.message_user(
                request,
                f"Left as they are (not cooling down): {', '.join(names)}. Change their status on their page.",
                messages.WARNING,
            )

    @admin.action(description="Check session (credentials only, no Telegram request)", permissions=["view"])
    def check_session(self, request, queryset):
        for account in queryset:
            check = check_account_credentials(account)
            self.message_user(request, check.message, messages.SUCCESS if check.ok else messages.ERROR)


# --- join targets ------------------------------------------------------------------------------


class TargetImportForm(forms.Form):
    niche = forms.CharField(
        max_length=JoinTarget._meta.get_field("niche").max_length,
        required=False,
        help_text="The niche of every link below; in a CSV, a niche column wins over it.",
    )
    links = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "cols": 80, "placeholder": "https://t.me/name\n@name\nt.me/+hash"}),
        help_text="One link per line: https://t.me/name, @name, t.me/+hash, t.me/joinchat/hash. "
        "Blank lines and lines starting with # are skipped.",
    )
    csv_file = forms.FileField(
        required=False, label="or a CSV file", help_text="Header row with a link column; niche and title optional."
    )

    def clean(self):
        data = super().clean()
        links, upload = (data.get("links") or "").strip(), data.get("csv_file")
        if bool(links) == bool(upload):
            raise forms.ValidationError("Paste links or choose a CSV file (one of the two).")
        if links and not (data.get("niche") or "").strip():
            self.add_error("niche", "Pasted links need a niche.")
        if upload and upload.size > CSV_MAX_BYTES:
            self.add_error("csv_file", f"The file is larger than {CSV_MAX_BYTES // (1024 * 1024)} MB.")
        return data


@admin.register(JoinTarget)
class JoinTargetAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "link",
        "niche",
        "status",
        "assigned_account",
        "joined_at",
        "warmup_until",
        "can_post",
        "attempts",
        "error_short",
    )
    list_filter = ("niche", "status", "assigned_account")
    list_select_related = ("assigned_account",)
    search_fields = ("username", "title")
    search_help_text = "Searches the username (@name) and the title."
    fields = (
        "link",
        "username",
        "invite_hash",
        "niche",
        "title",
        "telegram_id",
        "status",
        "assigned_account",
        "joined_at",
        "warmup_ends_at",
        "warmup_until",
        "can_post",
        "attempts",
        "error_message",
        "claimed_by",
        "claimed_until",
        "created_at",
    )
    # The joiner writes these. The account in particular: a joined group stays bound to it for good.
    readonly_fields = (
        "link",
        "username",
        "invite_hash",
        "telegram_id",
        "status",
        "assigned_account",
        "joined_at",
        "warmup_ends_at",
        "warmup_until",
        "can_post",
        "attempts",
        "error_message",
        "claimed_by",
        "claimed_until",
        "created_at",
    )
    actions = ("join_selected",)

    @admin.display(description="warm-up until", ordering="warmup_ends_at")
    def warmup_until(self, target):
        if not target.warmup_ends_at:
            return "—"
        ahead = future_time(target.warmup_ends_at)
        stamp = f"{target.warmup_ends_at:%Y-%m-%d %H:%M}"
        return format_html("{} ({})", stamp, ahead) if ahead != "—" else f"{stamp} (over)"

    @admin.display(description="error", ordering="error_message")
    def error_short(self, target):
        return Truncator(target.error_message).chars(60) if target.error_message else "—"

    @admin.action(description="Join selected now", permissions=["change"])
    def join_selected(self, request, queryset):
        by_niche: dict[str, list[int]] = defaultdict(list)
        for pk, niche in (
            queryset.filter(status=JoinTarget.Status.NEW)
            .order_by("niche", "created_at", "pk")
            .values_list("pk", "niche")
        ):
            by_niche[niche].append(pk)
        not_new = queryset.exclude(status=JoinTarget.Status.NEW).count()
        started, busy, capped = [], [], []
        with transaction.atomic():
            for niche, ids in by_niche.items():
                if active := active_join_job(niche):
                    busy.append(active)
                    continue
                if len(ids) > MAX_BATCH_SIZE:
                    capped.append(f"{niche}: {MAX_BATCH_SIZE} of {len(ids)}")
                ids = ids[:MAX_BATCH_SIZE]
                started.append(start_join_batch(niche=niche, batch_size=len(ids), target_ids=ids, user=request.user))
        if started:
            self.message_user(
                request,
                format_html("Started {} join job(s): {}", len(started), job_links(started)),
                messages.SUCCESS,
            )
        if busy:
            self.message_user(
                request,
                format_html(
                    "A join job is already queued or running for: {}. The selected targets there stay new; "
                    "start them again when it has finished.",
                    job_links(busy),
                ),
                messages.WARNING,
            )
        if capped:
            self.message_user(
                request,
                f"At most {MAX_BATCH_SIZE} groups per batch, the oldest selected first ({'; '.join(capped)}); "
                "the others stay new for the next batch.",
                messages.WARNING,
            )
        if not_new:
            self.message_user(request, f"{not_new} selected target(s) are not new: skipped.", messages.WARNING)
        if not by_niche and not not_new:
            self.message_user(request, "Nothing selected to join.", messages.WARNING)
        if len(started) == 1 and not (busy or capped or not_new):
            return HttpResponseRedirect(jobrun_url(started[0]))
        return None

    # --- bulk import of links

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name=f"{name}_import"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        # Targets come in through the import page: it parses the links and skips duplicates.
        return HttpResponseRedirect(reverse("admin:accounts_jointarget_import"))

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        errors: list[str] = []
        if request.method == "POST":
            form = TargetImportForm(request.POST, request.FILES)
            if form.is_valid():
                niche = form.cleaned_data["niche"].strip()
                try:
                    if upload := form.cleaned_data["csv_file"]:
                        lines = parse_target_csv(upload.read(), niche=niche)
                    else:
                        lines = parse_target_text(form.cleaned_data["links"], niche=niche)
                    result = import_targets(lines=lines)
                except TargetImportError as exc:
                    errors = exc.errors
                else:
                    self.message_user(request, result.summary(), messages.SUCCESS)
                    url = reverse("admin:accounts_jointarget_changelist")
                    niches = {line.niche for line in lines}
                    if len(niches) == 1:
                        url += "?" + urlencode({"niche": niches.pop()})
                    return HttpResponseRedirect(url)
        else:
            form = TargetImportForm(initial={"niche": request.GET.get("niche", "")})
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import join targets",
            "subtitle": None,
            "form": form,
            "import_errors": errors,
            "join_kind": JOIN_KIND,
        }
        return TemplateResponse(request, "admin/accounts/jointarget/import.html", context)
