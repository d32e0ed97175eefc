"""Admin for seeder batches and stale marks, and the seeders review page.

Thin, as the rest of the admin: the review page shows `services.preview()`;
"Approve these 10" goes through a confirmation page (the `delete_selected`
pattern: the same ids again, plus `post=yes`) to `services.approve`; rolling
back goes through one to `services.rollback`; the verify page reads
`selectors.verify_rows`; "Refresh reference now" starts a job through
`start_reference_refresh`. Nothing here decides who is a candidate.

Looking needs `seeders.view_seederbatch`; approving, rolling back and
refreshing need `seeders.approve_seederbatch` (a POST without it is a 403).
"""

import csv
from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Count, F
from django.http import HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from leadops.admin import progress_bar
from leadops.models import JobRun
from telegram_sources.gateway import NotFound
from telegram_sources.services.starters import REFRESH_REFERENCE_KIND, start_reference_refresh

from . import selectors, services
from .models import SeederBatch, StaleMark
from .rows import seeder_row

VERIFY_TOP = 30
VERIFY_TOP_MAX = 500
CSV_COLUMNS = [
    "batch_id",
    "telegram_id",
    "username",
    "first_name",
    "last_name",
    "offline_cnt",
    "last_offline_at",
    "set_at",
    "until",
    "revoked_at",
]


# --- what the pages show ------------------------------------------------------------------------


def display_row(rank: int, row: dict) -> dict:
    """A `seeder_row` as the playbook lists it: rank, @username, name, events, years first seen–last offline."""
    name = " ".join(filter(None, [row["first_name"], row["last_name"]]))
    years = "–".join(value[:4] if value else "—" for value in (row["first_seen_at"], row["last_offline_at"]))
    handle = f"@{row['username']}" if row["username"] else ""
    return {**row, "rank": rank, "handle": handle, "name": name, "years": years}


def reference_status(*, now=None) -> dict:
    """The reference snapshot's age, and what is wrong with it if approving would be refused."""
    now = now or timezone.now()
    limit = settings.REFERENCE_MAX_AGE_HOURS
    status = {"group": settings.REFERENCE_GROUP, "limit_hours": limit, "age": None, "snapshot_at": None}
    try:
        age = selectors.reference_age(now=now)
    except NotFound as exc:  # REFERENCE_GROUP is neither an id nor a username
        return {**status, "fresh": False, "problem": f"REFERENCE_GROUP is not usable: {exc}"}
    fresh = age is not None and age <= timedelta(hours=limit)
    problem = ""
    if not settings.REFERENCE_GROUP:
        problem = "REFERENCE_GROUP is not set: approving needs a fresh snapshot of the reference group."
    elif age is None:
        problem = "The reference group has never been exported: refresh it before approving."
    elif not fresh:
        problem = (
            f"The reference snapshot is {age.total_seconds() / 3600:.0f} h old (limit {limit} h): "
            "refresh it before approving."
        )
    snapshot_at = now - age if age is not None else None
    return {**status, "age": age, "snapshot_at": snapshot_at, "fresh": fresh, "problem": problem}


def csv_safe(value) -> str:
    """Names come from Telegram: never let one start a spreadsheet formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def short_time(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def iso(value) -> str:
    return value.isoformat() if value else ""


# --- admin ----------------------------------------------------------------------------------------


class ReadOnlyMixin:
    """Batches and marks are written by the services only."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SeederBatch)
class SeederBatchAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "reason",
        "status",
        "created_by",
        "created",
        "reference_snapshot",
        "marks_count",
        "rolled_back",
    )
    list_display_links = ("id", "reason")
    list_select_related = ("created_by", "rolled_back_by")
    search_fields = ("reason",)
    fields = (
        "reason",
        "status",
        "created_by",
        "created_at",
        "reference_snapshot_at",
        "is_legacy_import",
        "rolled_back_by",
        "rolled_back_at",
        "see_also",
        "rows_before_table",
    )
    readonly_fields = fields
    actions = ("rollback_selected", "export_users_csv")

    # --- permissions

    def has_approve_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.approve_seederbatch")

    def _require_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied

    def _require_approve(self, request):
        if not (self.has_view_permission(request) and self.has_approve_permission(request)):
            raise PermissionDenied

    # --- changelist and change page

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(marks_count=Count("marks"))

    @admin.display(description="marks", ordering="marks_count")
    def marks_count(self, batch):
        return batch.marks_count

    @admin.display(description="created at", ordering="created_at")
    def created(self, batch):
        return short_time(batch.created_at)

    @admin.display(description="reference snapshot at", ordering="reference_snapshot_at")
    def reference_snapshot(self, batch):
        return short_time(batch.reference_snapshot_at)

    @admin.display(description="rolled back", ordering="rolled_back_at")
    def rolled_back(self, batch):
        if batch.rolled_back_at is None:
            return "—"
        by = f" by {batch.rolled_back_by}" if batch.rolled_back_by else ""
        return f"{short_time(batch.rolled_back_at)}{by}"

    @admin.display(description="see also")
    def see_also(self, batch):
        if not batch.pk:
            return "—"
        marks = reverse("admin:seeders_stalemark_changelist") + "?" + urlencode({"batch__id__exact": batch.pk})
        verify = reverse("admin:seeders_seederbatch_verify") + "?" + urlencode({"batch": batch.pk})
        return format_html('<a href="{}">its stale marks</a> · <a href="{}">verify (top-30)</a>', marks, verify)

    @admin.display(description="rows before approval")
    def rows_before_table(self, batch):
        rows = [display_row(rank, _complete(row)) for rank, row in enumerate(batch.rows_before or [], 1)]
        if not rows:
            return "—"
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (r["rank"], r["telegram_id"], r["handle"] or "no username", r["name"], r["offline_cnt"], r["years"])
                for r in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>#</th><th>Telegram id</th><th>Username</th><th>Name</th>"
            "<th>Offline events</th><th>Years</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    def changelist_view(self, request, extra_context=None):
        # Without the permission the action is not offered; posting it anyway is refused outright.
        if request.method == "POST" and request.POST.get("action") == "rollback_selected":
            self._require_approve(request)
        extra_context = {**(extra_context or {}), "batch_size": settings.SEEDERS_BATCH_SIZE}
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_roll_back": self.has_approve_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    # --- actions

    @admin.action(description="Roll back selected seeder batches", permissions=["approve"])
    def rollback_selected(self, request, queryset):
        self._require_approve(request)
        if request.POST.get("post") == "yes":
            for batch in queryset:
                self.message_user(request, services.rollback(batch=batch, user=request.user), messages.SUCCESS)
            return None  # back to the changelist
        return self._rollback_confirmation(request, list(queryset), action="rollback_selected")

    @admin.action(description="Export users as CSV", permissions=["view"])
    def export_users_csv(self, request, queryset):
        marks = (
            StaleMark.objects.filter(batch__in=queryset)
            .select_related("user")
            .order_by(
                "batch_id",
                F("user__offline_cnt").desc(),
                F("user__last_offline_at").desc(nulls_last=True),
                "user__telegram_id",
            )
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        ids = "-".join(str(pk) for pk in sorted(queryset.values_list("pk", flat=True)))
        response["Content-Disposition"] = f'attachment; filename="seeder-batches-{ids[:100]}.csv"'
        response.write("\ufeff")  # so spreadsheets read the names as UTF-8
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for mark in marks:
            user = mark.user
            writer.writerow(
                [
                    mark.batch_id,
                    user.telegram_id,
                    csv_safe(user.username),
                    csv_safe(user.first_name),
                    csv_safe(user.last_name),
                    user.offline_cnt,
                    iso(user.last_offline_at),
                    iso(mark.set_at),
                    iso(mark.until),
                    iso(mark.revoked_at),
                ]
            )
        return response

    # --- the seeders pages

    def get_urls(self):
        def view(func):
            return self.admin_site.admin_view(func)

        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [  # before the model's own URLs: "<path:object_id>/" would take "review/"
            path("review/", view(self.review_view), name=f"{name}_review"),
            path("review/approve/", view(self.approve_view), name=f"{name}_approve"),
            path("review/refresh-reference/", view(self.refresh_reference_view), name=f"{name}_refresh_reference"),
            path("verify/", view(self.verify_view), name=f"{name}_verify"),
            path("<int:object_id>/rollback/", view(self.rollback_view), name=f"{name}_rollback"),
            *super().get_urls(),
        ]

    def _render(self, request, template, title, **context):
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "subtitle": None,
            "batch_size": settings.SEEDERS_BATCH_SIZE,
            **context,
        }
        return TemplateResponse(request, f"admin/seeders/seederbatch/{template}", context)

    def review_view(self, request):
        self._require_view(request)
        n = settings.SEEDERS_BATCH_SIZE
        rows = [display_row(rank, row) for rank, row in enumerate(services.preview(n), 1)]
        reference = reference_status()
        job = JobRun.objects.filter(kind=REFRESH_REFERENCE_KIND).select_related("triggered_by").first()
        return self._render(
            request,
            "review.html",
            f"Seeders: review the next top-{n}",
            rows=rows,
            reference=reference,
            refresh_job=job,
            refresh_bar=progress_bar(job) if job else "",
            can_approve=self.has_approve_permission(request),
            approvable=len(rows) == n and reference["fresh"],
        )

    def refresh_reference_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._require_approve(request)
        review = reverse("admin:seeders_seederbatch_review")
        try:
            job = start_reference_refresh(user=request.user)
        except (ImproperlyConfigured, NotFound) as exc:
            self.message_user(request, f"Cannot refresh the reference group: {exc}", messages.ERROR)
            return HttpResponseRedirect(review)
        job_url = reverse("admin:leadops_jobrun_change", args=[job.pk])
        self.message_user(
            request,
            format_html('Started <a href="{}">#{} {}</a>: its progress is shown below.', job_url, job.pk, job.kind),
            messages.SUCCESS,
        )
        return HttpResponseRedirect(review)

    def approve_view(self, request):
        """POST the ids shown: a confirmation page; POST them again with post=yes: approve exactly those."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._require_approve(request)
        review = reverse("admin:seeders_seederbatch_review")
        try:
            ids = [int(value) for value in request.POST.getlist("ids")]
        except ValueError:
            ids = []
        if not ids:
            self.message_user(request, "Nothing was approved: no Telegram ids were submitted.", messages.ERROR)
            return HttpResponseRedirect(review)

        if request.POST.get("post") == "yes":
            result = services.approve(ids=ids, user=request.user)
            if not result.ok:
                self.message_user(request, f"Nothing was approved: {result.reason}.", messages.ERROR)
                return HttpResponseRedirect(review)
            batch = result.batch
            self.message_user(
                request,
                format_html(
                    'Approved <a href="{}">batch #{}</a>: {} users marked stale for {} days. '
                    "They are highlighted below.",
                    reverse("admin:seeders_seederbatch_change", args=[batch.pk]),
                    batch.pk,
                    len(ids),
                    settings.SEEDERS_STALE_DAYS,
                ),
                messages.SUCCESS,
            )
            verify = reverse("admin:seeders_seederbatch_verify") + "?" + urlencode({"batch": batch.pk})
            return HttpResponseRedirect(verify)

        # The confirmation step writes nothing; a list that is no longer the top-N is sent back at once
        # (approve would refuse it anyway, inside its transaction).
        preview = services.preview()
        if sorted(ids) != sorted(row["telegram_id"] for row in preview):
            self.message_user(
                request,
                "Nothing was approved: the submitted ids are not the current top-"
                f"{settings.SEEDERS_BATCH_SIZE} (the list changed since it was shown, or the form was altered). "
                "Review the list below and approve what it shows.",
                messages.ERROR,
            )
            return HttpResponseRedirect(review)
        return self._render(
            request,
            "approve_confirmation.html",
            "Are you sure?",
            rows=[display_row(rank, row) for rank, row in enumerate(preview, 1)],
            reference=reference_status(),
            stale_days=settings.SEEDERS_STALE_DAYS,
        )

    def verify_view(self, request):
        self._require_view(request)
        batch = None
        if (batch_id := request.GET.get("batch", "")).isdigit():
            batch = SeederBatch.objects.filter(pk=int(batch_id)).first()
        try:
            top = max(1, min(VERIFY_TOP_MAX, int(request.GET.get("top", VERIFY_TOP))))
        except ValueError:
            top = VERIFY_TOP
        now = timezone.now()
        rows = []
        for rank, user in enumerate(selectors.verify_rows(top, at=now), 1):
            row = display_row(rank, seeder_row(user, at=now))
            row.update(
                set_at=user.stale_set_at,
                until=user.stale_until,
                batch_id=user.stale_batch_id,
                in_batch=batch is not None and user.stale_batch_id == batch.pk,
            )
            rows.append(row)
        return self._render(
            request,
            "verify.html",
            f"Seeders: verify the top-{top} not in the reference group",
            rows=rows,
            top=top,
            batch=batch,
            stale_count=sum(row["stale"] for row in rows),
            batch_count=sum(row["in_batch"] for row in rows),
            can_roll_back=self.has_approve_permission(request),
        )

    def rollback_view(self, request, object_id):
        """One batch's "Roll back" button: a confirmation page, then `services.rollback`."""
        self._require_approve(request)
        batch = get_object_or_404(SeederBatch, pk=object_id)
        if request.method == "POST" and request.POST.get("post") == "yes":
            self.message_user(request, services.rollback(batch=batch, user=request.user), messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:seeders_seederbatch_change", args=[batch.pk]))
        return self._rollback_confirmation(request, [batch], action=None)

    def _rollback_confirmation(self, request, batches, *, action):
        for batch in batches:  # a handful of batches: two counts each is fine
            batch.marks_total = batch.marks.count()
            batch.unrevoked = batch.marks.filter(revoked_at__isnull=True).count()
        return self._render(
            request,
            "rollback_confirmation.html",
            "Are you sure?",
            batches=batches,
            action=action,
            action_checkbox_name=helpers.ACTION_CHECKBOX_NAME,
        )


def _complete(row: dict) -> dict:
    """Rows saved by older code (or a legacy import) may lack fields."""
    keys = ("telegram_id", "username", "first_name", "last_name", "offline_cnt", "first_seen_at", "last_offline_at")
    return {key: row.get(key) for key in keys} | row


class MarkStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.active(now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, until__lte=now)
        return queryset


@admin.register(StaleMark)
class StaleMarkAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("user", "batch", "set_at", "until", "revoked_at", "active")
    list_filter = (MarkStateFilter, "batch")
    list_select_related = ("user", "batch")
    search_fields = ("user__username", "user__first_name", "user__last_name")
    date_hierarchy = "set_at"
    fields = ("user", "batch", "set_at", "until", "reason", "revoked_at", "revoked_by")
    readonly_fields = fields

    @admin.display(description="active", boolean=True)
    def active(self, mark):
        return mark.is_active
