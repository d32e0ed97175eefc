"""Admin for the outreach pipeline (part I): sheet rows, searches, results, companies, blocked domains."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leadops.admin_tools import BigTableAdmin, ReadOnlyAdminMixin

from .admin_mail import ContactInline
from .models import BlockedDomain, Company, NicheRow, SearchBatchLog, SerpOperation, SerpQuery, SerpResult
from .services.blocking import block_domains, normalize_blocked


class BlockDomainMixin:
    @admin.action(description=_("Block these domains (no more companies from them, none emailed)"))
    def block_domains(self, request, queryset):
        domains = {getattr(obj, "canonical_domain", None) or obj.domain for obj in queryset}
        created, opted_out = block_domains(domains=domains)
        self.message_user(
            request,
            gettext(
                "%(created)s domain(s) blocked (%(already)s were already); %(opted_out)s compan(ies) on them opted out."
            )
            % {"created": created, "already": len(domains) - created, "opted_out": opted_out},
            messages.SUCCESS,
        )


class BlockedDomainForm(forms.ModelForm):
    class Meta:
        model = BlockedDomain
        fields = ("domain", "reason")

    def clean_domain(self):
        try:
            return normalize_blocked(self.cleaned_data["domain"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(NicheRow)
class NicheRowAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "sheet_row",
        "niche",
        "city",
        "country",
        "batch_tag",
        "status",
        "generated",
        "inserted",
        "duplicates",
        "first_scheduled_for",
        "last_error",
    )
    list_filter = ("status", "batch_tag")
    search_fields = ("niche", "city", "country")


@admin.register(SerpQuery)
class SerpQueryAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    list_display = ("text", "lr", "batch_tag", "status", "scheduled_for", "attempts", "last_error")
    list_filter = ("status", "batch_tag", "lr")
    search_fields = ("text", "niche", "city")
    actions = ("run_again",)

    @admin.action(description=_("Run again (back to pending, due now)"))
    def run_again(self, request, queryset):
        count = queryset.exclude(status=SerpQuery.Status.IN_PROGRESS).update(
            status=SerpQuery.Status.PENDING, attempts=0, last_error="", scheduled_for=timezone.now()
        )
        self.message_user(
            request, gettext("%(count)s queries queued again (the next search run starts them).") % {"count": count}
        )


@admin.register(SerpOperation)
class SerpOperationAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    list_display = ("operation_id", "query", "status", "requested_at", "completed_at", "retries", "error_payload")
    list_filter = ("status",)
    search_fields = ("operation_id", "query__text")
    list_select_related = ("query",)


@admin.register(SerpResult)
class SerpResultAdmin(BlockDomainMixin, ReadOnlyAdminMixin, BigTableAdmin):
    list_display = ("position", "domain", "title", "url", "language", "operation")
    search_fields = ("domain", "title", "url")
    list_select_related = ("operation",)
    actions = ("block_domains",)


@admin.register(Company)
class CompanyAdmin(BlockDomainMixin, BigTableAdmin):
    list_display = ("canonical_domain", "name", "status", "opt_out", "primary", "source", "updated_at")
    list_filter = ("status", "opt_out", "source")
    search_fields = ("canonical_domain", "name")
    readonly_fields = ("dedupe_hash", "primary", "created_at", "updated_at", "enrich_attempts", "enrich_error")
    actions = ("block_domains",)
    inlines = (ContactInline,)


@admin.register(SearchBatchLog)
class SearchBatchLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("kind", "batch_tag", "started_at", "finished_at", "counts")
    list_filter = ("kind",)


@admin.register(BlockedDomain)
class BlockedDomainAdmin(admin.ModelAdmin):
    form = BlockedDomainForm
    list_display = ("domain", "reason")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        block_domains(domains=[obj.domain], reason=obj.reason)  # and opt out the companies already on it

    search_fields = ("domain",)
