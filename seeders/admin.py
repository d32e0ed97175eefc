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

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leadops.admin_tools import ReadOnlyAdminMixin

from . import services
from .models import SeederBatch, StaleMark
from .review_admin import SeederReviewViews, complete_row, csv_safe, display_row, iso, short_time

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


# --- admin ----------------------------------------------------------------------------------------


@admin.register(SeederBatch)
class SeederBatchAdmin(ReadOnlyAdminMixin, SeederReviewViews, admin.ModelAdmin):
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

    @admin.display(description=_("marks"), ordering="marks_count")
    def marks_count(self, batch):
        return batch.marks_count

    @admin.display(description=_("created at"), ordering="created_at")
    def created(self, batch):
        return short_time(batch.created_at)

    @admin.display(description=_("reference snapshot at"), ordering="reference_snapshot_at")
    def reference_snapshot(self, batch):
        return short_time(batch.reference_snapshot_at)

    @admin.display(description=_("rolled back"), ordering="rolled_back_at")
    def rolled_back(self, batch):
        if batch.rolled_back_at is None:
            return "—"
        if batch.rolled_back_by:
            return gettext("%(time)s by %(user)s") % {
                "time": short_time(batch.rolled_back_at),
                "user": batch.rolled_back_by,
            }
        return short_time(batch.rolled_back_at)

    @admin.display(description=_("see also"))
    def see_also(self, batch):
        if not batch.pk:
            return "—"
        marks = reverse("admin:seeders_stalemark_changelist") + "?" + urlencode({"batch__id__exact": batch.pk})
        verify = reverse("admin:seeders_seederbatch_verify") + "?" + urlencode({"batch": batch.pk})
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            marks,
            gettext("its stale marks"),
            verify,
            gettext("verify (top-30)"),
        )

    @admin.display(description=_("rows before approval"))
    def rows_before_table(self, batch):
        rows = [display_row(rank, complete_row(row)) for rank, row in enumerate(batch.rows_before or [], 1)]
        if not rows:
            return "—"
        no_username = gettext("no username")
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (r["rank"], r["telegram_id"], r["handle"] or no_username, r["name"], r["offline_cnt"], r["years"])
                for r in rows
            ),
        )
        head = format_html_join(
            "",
            "<th>{}</th>",
            ((label,) for label in ("#", _("Telegram id"), _("Username"), _("Name"), _("Offline events"), _("Years"))),
        )
        return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)

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

    @admin.action(description=_("Roll back selected seeder batches"), permissions=["approve"])
    def rollback_selected(self, request, queryset):
        self._require_approve(request)
        if request.POST.get("post") == "yes":
            for batch in queryset:
                self.message_user(request, services.rollback(batch=batch, user=request.user), messages.SUCCESS)
            return None  # back to the changelist
        return self._rollback_confirmation(request, list(queryset), action="rollback_selected")

    @admin.action(description=_("Export users as CSV"), permissions=["view"])
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


class MarkStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", _("Active")), ("revoked", _("Revoked")), ("expired", _("Expired"))]

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
class StaleMarkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "batch", "set_at", "until", "revoked_at", "active")
    list_filter = (MarkStateFilter, "batch")
    list_select_related = ("user", "batch")
    search_fields = ("user__username", "user__first_name", "user__last_name")
    date_hierarchy = "set_at"
    fields = ("user", "batch", "set_at", "until", "reason", "revoked_at", "revoked_by")
    readonly_fields = fields

    @admin.display(description=_("active"), boolean=True)
    def active(self, mark):
        return mark.is_active
