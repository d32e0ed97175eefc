"""Admin for Outreach II: contacts, messages (preview, approve, reject, reschedule, send now), opt-outs, mailboxes.

Messages that may already have gone out (`needs_review`) are never re-sent by a
single click: "send now" and "reschedule" on them go through a confirmation page
that says so (Django's delete_selected pattern).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leadops.admin_tools import BigTableAdmin, jobs_redirect
from leadops.jobs import start_job_once

from .admin_demo import demo_mail_urls
from .models import Contact, OfferBrief, OptOut, OutreachMessage, SenderMailbox
from .services.deliver import send_now
from .services.optout_import import OptOutImportError, import_opt_outs
from .tasks import run_once_task
from .window import window_from_settings

Status = OutreachMessage.Status


class ContactInline(admin.TabularInline):
    model = Contact
    fields = ("email", "is_primary", "score", "source_url", "created_at")
    readonly_fields = ("score", "source_url", "created_at")
    extra = 0


@admin.register(OutreachMessage)
class OutreachMessageAdmin(BigTableAdmin):
    list_display = ("company", "recipient", "subject", "status", "scheduled_for", "sent_at", "mailbox", "written_by")
    list_filter = ("status", "mailbox", ("sent_at", admin.DateFieldListFilter))
    search_fields = ("company__canonical_domain", "contact__email", "subject")
    list_select_related = ("company", "contact", "mailbox")
    readonly_fields = (
        "company",
        "contact",
        "preview",
        "status",
        "sent_at",
        "message_id",
        "mailbox",
        "attempts",
        "lease_until",
        "last_error",
        "metadata",
    )
    fields = ("preview", "subject", "body", "status", "scheduled_for", *readonly_fields[5:], "company", "contact")
    actions = ("approve", "reject", "reschedule", "send_now_action")

    def get_urls(self):
        run_once = path("run-once/", self.admin_site.admin_view(self.run_once_view), name="outreach_run_once")
        return [run_once, *demo_mail_urls(self), *super().get_urls()]  # demo mailbox: outreach.admin_demo

    def run_once_view(self, request):
        """POST: every pipeline step once, as a job (what beat does over a day, now)."""
        if request.method != "POST" or not self.has_change_permission(request):
            return redirect("admin:outreach_outreachmessage_changelist")
        job = start_job_once(kind="outreach-run-once", task=run_once_task, target="outreach", user=request.user)
        return jobs_redirect([job])

    @admin.display(description=_("to"), ordering="contact__email")
    def recipient(self, message):
        return message.contact.email

    @admin.display(description=_("written by"))
    def written_by(self, message):
        meta = message.metadata or {}
        if meta.get("fallback"):
            return gettext("fallback (%(reason)s)") % {"reason": meta.get("fallback_reason") or gettext("template")}
        return meta.get("model") or "—"

    @admin.display(description=_("preview"))
    def preview(self, message):
        return format_html(
            '<div class="email-preview" style="max-width:46em;border:1px solid #ccc;padding:1em;background:#fff">'
            "<div><b>{}</b> {}</div><div><b>{}</b> {}</div><hr>"
            '<pre style="white-space:pre-wrap;font-family:inherit">{}</pre></div>',
            gettext("To:"),
            message.contact.email,
            gettext("Subject:"),
            message.subject,
            message.body,
        )

    def has_add_permission(self, request):
        return False  # messages are written by the pipeline, one per company

    def get_readonly_fields(self, request, obj=None):
        editable = obj is not None and obj.status in (Status.DRAFT, Status.NEEDS_REVIEW)
        # Subject and body are editable only before the message is queued.
        return self.readonly_fields if editable else (*self.readonly_fields, "subject", "body", "scheduled_for")

    @admin.action(description=_("Approve: written drafts may be queued"))
    def approve(self, request, queryset):
        count = 0
        for message in queryset.filter(status=Status.DRAFT):
            message.metadata = {**message.metadata, "ready": True, "approved_by": request.user.get_username()}
            message.last_error = ""
            message.save(update_fields=["metadata", "last_error", "updated_at"])
            count += 1
        self.message_user(
            request, gettext("%(count)s draft(s) approved; the next queue run schedules them.") % {"count": count}
        )

    @admin.action(description=_("Reject: never send these"))
    def reject(self, request, queryset):
        count = queryset.filter(status__in=[Status.DRAFT, Status.SCHEDULED, Status.NEEDS_REVIEW, Status.FAILED]).update(
            status=Status.SKIPPED, last_error=f"rejected by {request.user.get_username()}", updated_at=timezone.now()
        )
        self.message_user(request, gettext("%(count)s message(s) rejected.") % {"count": count})

    @admin.action(description=_("Reschedule: back to the queue, into the next sending slot"))
    def reschedule(self, request, queryset):
        return self._confirm_or_run(request, queryset, "reschedule", self._reschedule)

    @admin.action(description=_("Send now"))
    def send_now_action(self, request, queryset):
        return self._confirm_or_run(request, queryset, "send_now_action", self._send_now)

    def _reschedule(self, request, rows):
        count = 0
        for message in rows.filter(status__in=[Status.SCHEDULED, Status.FAILED, Status.NEEDS_REVIEW]):
            message.metadata = {**message.metadata, "ready": True, "rescheduled_by": request.user.get_username()}
            message.status, message.scheduled_for, message.mailbox, message.lease_until = Status.DRAFT, None, None, None
            message.save(update_fields=["metadata", "status", "scheduled_for", "mailbox", "lease_until", "updated_at"])
            count += 1
        self.message_user(request, gettext("%(count)s message(s) back in the queue.") % {"count": count})

    def _send_now(self, request, rows):
        sent, refused = 0, []
        for message in rows:
            try:
                send_now(message)
                sent += 1
            except ValueError as exc:
                refused.append(str(exc))
        self.message_user(
            request, gettext("%(count)s message(s) due now; the next delivery run sends them.") % {"count": sent}
        )
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)

    def _confirm_or_run(self, request, queryset, action, run):
        in_doubt = queryset.filter(status=Status.NEEDS_REVIEW)
        if request.POST.get("post") == "yes" or not in_doubt.exists():
            run(request, queryset)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Are you sure?"),
            "queryset": queryset,
            "in_doubt": in_doubt.select_related("contact"),
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/outreach/outreachmessage/confirm_resend.html", context)


class OptOutImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"), help_text=_("CSV: one e-mail address or domain per line (a header line is allowed)")
    )
    reason = forms.CharField(label=_("Reason"), required=False, max_length=255)


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ("email", "domain", "reason", "source", "at")
    list_filter = ("source",)
    search_fields = ("email", "domain")
    change_list_template = "admin/outreach/optout/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="outreach_optout_import"), *super().get_urls()]

    def import_view(self, request):
        if not self.has_add_permission(request):
            return redirect("admin:outreach_optout_changelist")
        form = OptOutImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                added = import_opt_outs(
                    data=form.cleaned_data["file"].read(), reason=form.cleaned_data["reason"], source="csv import"
                )
            except OptOutImportError as exc:
                form.add_error("file", str(exc))
            else:
                self.message_user(
                    request,
                    gettext("%(created)s opt-out(s) added, %(existing)s already known.")
                    % {"created": added.created, "existing": added.existing},
                )
                return redirect("admin:outreach_optout_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import opt-outs"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/outreach/optout/import.html", context)


@admin.register(SenderMailbox)
class SenderMailboxAdmin(admin.ModelAdmin):
    list_display = ("name", "from_address", "route", "active", "sent_today", "daily_cap", "host", "port")
    list_filter = ("route", "active")
    fields = (
        "name",
        "from_address",
        "route",
        "active",
        "daily_cap",
        "host",
        "port",
        "use_tls",
        "use_ssl",
        "username",
        "password",
    )

    def get_queryset(self, request):
        window = window_from_settings()
        start, end = window.day_bounds(window.local_date(timezone.now()))  # "today" in OUTREACH_TIMEZONE
        sent = (
            OutreachMessage.objects.filter(mailbox=OuterRef("pk"), sent_at__gte=start, sent_at__lt=end)
            .values("mailbox")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return super().get_queryset(request).annotate(sent_today_count=Coalesce(Subquery(sent), 0))

    @admin.display(description=_("sent today"), ordering="sent_today_count")
    def sent_today(self, mailbox):
        return f"{mailbox.sent_today_count} / {mailbox.daily_cap}"


@admin.register(OfferBrief)
class OfferBriefAdmin(admin.ModelAdmin):
    list_display = ("name", "language", "active", "updated_at")
    list_filter = ("active",)
