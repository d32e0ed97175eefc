"""Admin for Telegram groups, users, memberships and unfinished exports.

Thin: the export action and the reference button start jobs through
`services.starters`; everything written by exports is read-only here.

The users and memberships tables grow to millions of rows, so their
changelists never run a full COUNT(*): see `EstimatedCountPaginator`.
"""

import re

from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import transaction
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leadops.admin_tools import BigTableAdmin, ReadOnlyAdminMixin, changelist_link, jobrun_url, jobs_redirect
from leadops.models import JobRun

from .admin_compare import GroupComparisonViews
from .admin_reports import GroupReportViews
from .models import ExportCheckpoint, Membership, TelegramGroup, TelegramUser
from .services.starters import EXPORT_KIND, start_group_export, start_reference_refresh

TELEGRAM_ID = re.compile(r"-?\d{1,19}")
BIGINT_MAX = 2**63 - 1


class TelegramIdSearchMixin:
    """A search term that is a number finds that Telegram id exactly (an index lookup);
    anything else searches `search_fields` (a leading @ is dropped)."""

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if TELEGRAM_ID.fullmatch(term):
            value = int(term)
            return (queryset.filter(telegram_id=value) if abs(value) <= BIGINT_MAX else queryset.none()), False
        return super().get_search_results(request, queryset, term.removeprefix("@"))


@admin.register(TelegramGroup)
class TelegramGroupAdmin(TelegramIdSearchMixin, GroupComparisonViews, GroupReportViews, admin.ModelAdmin):
    list_display = (
        "title",
        "username",
        "kind",
        "event_date",
        "participants_count",
        "last_exported_at",
        "coverage",
        "members_hidden",
        "report_links",
    )
    list_filter = ("kind", "members_hidden")
    search_fields = ("title", "username")
    search_help_text = _("A number finds the group with that Telegram id; anything else searches title and username.")
    fields = (
        "telegram_id",
        "title",
        "username",
        "kind",
        "event_date",
        "participants_count",
        "created_on",
        "last_exported_at",
        "coverage",
        "members_hidden",
        "links",
        "report_links",
    )
    readonly_fields = (
        "participants_count",
        "created_on",
        "last_exported_at",
        "coverage",
        "members_hidden",
        "links",
        "report_links",  # admin_reports.GroupReportViews
    )
    actions = ("export_members", "compare_with_reference")  # the second: admin_compare.GroupComparisonViews

    @admin.display(description=_("coverage"), ordering="last_export_coverage")
    def coverage(self, group):
        if group.last_export_coverage is None:
            return "—"
        return f"{group.last_export_coverage:.0%}"

    @admin.display(description=_("see also"))
    def links(self, group):
        if not group.pk:
            return "—"
        return format_html(
            "{} · {}",
            changelist_link(Membership, gettext("members"), group__id__exact=group.pk),
            changelist_link(JobRun, gettext("export jobs"), kind__exact=EXPORT_KIND, q=str(group)),
        )

    @admin.action(description=_("Export members now"), permissions=["change"])
    def export_members(self, request, queryset):
        with transaction.atomic():
            jobs = [start_group_export(group=group, user=request.user) for group in queryset]
        job_links = format_html_join(
            ", ", '<a href="{}">#{} {}</a>', ((jobrun_url(job), job.pk, job.target) for job in jobs)
        )
        self.message_user(
            request, format_html(gettext("Started {} export job(s): {}"), len(jobs), job_links), messages.SUCCESS
        )
        return jobs_redirect(jobs)  # the job's live page, or the list of them

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_refresh_reference": self.has_change_permission(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        refresh = self.admin_site.admin_view(self.refresh_reference_view)
        return [
            path("refresh-reference/", refresh, name="telegram_sources_telegramgroup_refresh_reference"),
            *super().get_urls(),
        ]

    def refresh_reference_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        try:
            job = start_reference_refresh(user=request.user)
        except ImproperlyConfigured as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:telegram_sources_telegramgroup_changelist"))
        self.message_user(
            request,
            format_html(gettext('Started <a href="{}">#{} {}</a>'), jobrun_url(job), job.pk, job.kind),
            messages.SUCCESS,
        )
        return HttpResponseRedirect(jobrun_url(job))


class HasUsernameFilter(admin.SimpleListFilter):
    title = _("has username")
    parameter_name = "has_username"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(username="")
        if self.value() == "no":
            return queryset.filter(username="")
        return queryset


class StillMemberFilter(admin.SimpleListFilter):
    title = _("still member")
    parameter_name = "still_member"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No (left)"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(left_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(left_at__isnull=False)
        return queryset


class MembershipInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Membership
    fields = ("group", "first_seen_at", "last_seen_at", "left_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("group")


@admin.register(TelegramUser)
class TelegramUserAdmin(TelegramIdSearchMixin, ReadOnlyAdminMixin, BigTableAdmin):
    list_display = (
        "telegram_id",
        "username",
        "first_name",
        "last_name",
        "offline_cnt",
        "last_offline_at",
        "in_reference",
        "is_bot",
        "gender",
    )
    list_filter = ("in_reference", "is_bot", "gender", HasUsernameFilter)
    search_fields = ("username", "first_name", "last_name")
    search_help_text = _(
        "A number finds the user with that Telegram id; anything else searches username, first and last name."
    )
    ordering = ("-offline_cnt", "telegram_id")
    fields = (
        "telegram_id",
        "username",
        "first_name",
        "last_name",
        "phone",
        "status",
        "is_bot",
        "is_premium",
        "is_verified",
        "first_seen_at",
        "offline_cnt",
        "last_offline_at",
        "in_reference",
        "reference_synced_at",
        "gender",
        "gender_reasons",
        "all_memberships",
    )
    readonly_fields = fields
    inlines = (MembershipInline,)

    @admin.display(description=_("gender rationale"))
    def gender_reasons(self, user):
        return "; ".join(user.gender_rationale) or "-"

    @admin.display(description=_("memberships"))
    def all_memberships(self, user):
        return changelist_link(Membership, gettext("all memberships of this user"), user__id__exact=user.pk)


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    list_display = ("group", "user", "first_seen_at", "last_seen_at", "left_at")
    list_filter = ("group", StillMemberFilter)
    list_select_related = ("group", "user")


@admin.register(ExportCheckpoint)
class ExportCheckpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """An export that has not finished: where it will resume."""

    list_display = ("group", "phase", "offset", "queries_pending", "queries_done", "run_started_at", "updated_at")
    list_filter = ("phase",)
    list_select_related = ("group",)
    fields = ("group", "phase", "offset", "queries_done", "pending_queries", "run_started_at", "updated_at")
    readonly_fields = fields

    @admin.display(description=_("queries pending"))
    def queries_pending(self, checkpoint):
        return len(checkpoint.pending_queries or [])
