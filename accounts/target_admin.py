"""Admin for the join targets: the list, "Join selected now", and the link import page.

Thin: the join action starts jobs through `services.starters`, the import page
calls `services.imports`. Account secrets (phone, api_id, api_hash,
string_session, proxy_url) are `EncryptedTextField`s: the change form shows
them only as "set / not set" (write-only), and no list column, read-only field
or message ever shows them.
"""

from collections import defaultdict

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leadops.admin_tools import future_time, job_links, jobs_redirect

from .models import JoinTarget
from .services.starters import JOIN_KIND, MAX_BATCH_SIZE, active_join_job, start_join_batch
from .services.target_import import TargetImportError, import_targets, parse_target_csv, parse_target_text

CSV_MAX_BYTES = 2 * 1024 * 1024


# --- join targets ------------------------------------------------------------------------------


class TargetImportForm(forms.Form):
    niche = forms.CharField(
        label=_("Niche"),
        max_length=JoinTarget._meta.get_field("niche").max_length,
        required=False,
        help_text=_("The niche of every link below; in a CSV, a niche column wins over it."),
    )
    links = forms.CharField(
        label=_("Links"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "cols": 80, "placeholder": "https://t.me/name\n@name\nt.me/+hash"}),
        help_text=_(
            "One link per line: https://t.me/name, @name, t.me/+hash, t.me/joinchat/hash. "
            "Blank lines and lines starting with # are skipped."
        ),
    )
    csv_file = forms.FileField(
        required=False,
        label=_("or a CSV file"),
        help_text=_("Header row with a link column; niche and title optional."),
    )

    def clean(self):
        data = super().clean()
        links, upload = (data.get("links") or "").strip(), data.get("csv_file")
        if bool(links) == bool(upload):
            raise forms.ValidationError(gettext("Paste links or choose a CSV file (one of the two)."))
        if links and not (data.get("niche") or "").strip():
            self.add_error("niche", gettext("Pasted links need a niche."))
        if upload and upload.size > CSV_MAX_BYTES:
            self.add_error(
                "csv_file", gettext("The file is larger than %(mb)s MB.") % {"mb": CSV_MAX_BYTES // (1024 * 1024)}
            )
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
    search_help_text = _("Searches the username (@name) and the title.")
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

    @admin.display(description=_("warm-up until"), ordering="warmup_ends_at")
    def warmup_until(self, target):
        if not target.warmup_ends_at:
            return "—"
        ahead = future_time(target.warmup_ends_at)
        stamp = f"{target.warmup_ends_at:%Y-%m-%d %H:%M}"
        return format_html("{} ({})", stamp, ahead) if ahead != "—" else gettext("%(time)s (over)") % {"time": stamp}

    @admin.display(description=_("error"), ordering="error_message")
    def error_short(self, target):
        return Truncator(target.error_message).chars(60) if target.error_message else "—"

    @admin.action(description=_("Join selected now"), permissions=["change"])
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
                    capped.append(
                        gettext("%(niche)s: %(taken)s of %(selected)s")
                        % {"niche": niche, "taken": MAX_BATCH_SIZE, "selected": len(ids)}
                    )
                ids = ids[:MAX_BATCH_SIZE]
                started.append(start_join_batch(niche=niche, batch_size=len(ids), target_ids=ids, user=request.user))
        if started:
            self.message_user(
                request,
                format_html(gettext("Started {} join job(s): {}"), len(started), job_links(started)),
                messages.SUCCESS,
            )
        if busy:
            self.message_user(
                request,
                format_html(
                    gettext(
                        "A join job is already queued or running for: {}. The selected targets there stay new; "
                        "start them again when it has finished."
                    ),
                    job_links(busy),
                ),
                messages.WARNING,
            )
        if capped:
            self.message_user(
                request,
                gettext(
                    "At most %(size)s groups per batch, the oldest selected first (%(capped)s); "
                    "the others stay new for the next batch."
                )
                % {"size": MAX_BATCH_SIZE, "capped": "; ".join(capped)},
                messages.WARNING,
            )
        if not_new:
            self.message_user(
                request,
                gettext("%(count)s selected target(s) are not new: skipped.") % {"count": not_new},
                messages.WARNING,
            )
        if not by_niche and not not_new:
            self.message_user(request, gettext("Nothing selected to join."), messages.WARNING)
        # The jobs started, and the ones already under way: the messages above show there too.
        return jobs_redirect(started + busy)

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
            "title": gettext("Import join targets"),
            "subtitle": None,
            "form": form,
            "import_errors": errors,
            "join_kind": JOIN_KIND,
        }
        return TemplateResponse(request, "admin/accounts/jointarget/import.html", context)
