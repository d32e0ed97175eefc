"""Admin for VK communities, tokens, users, subscriptions and membership events.

Thin: the actions start jobs through `services.starters`, the add-community form
and the token check call `services.communities`. Tokens are
`EncryptedTextField`s: the form shows them only as "set / not set" and no
column, read-only field or message ever shows one. Users, subscriptions and
events grow to millions of rows: their changelists never run a full COUNT(*)
(`BigTableAdmin`, shared with the Telegram admin).
"""

import functools
import re
from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leadops.admin_tools import BigTableAdmin, ReadOnlyAdminMixin, future_time, job_links, jobs_redirect
from leadops.http import HttpError
from leadops.models import JobRun
from leadops.secret_widgets import KEEP

from .admin_reports import CommunityReportViews
from .client import NoUsableToken, TokenInvalid, TokenSetAside, VkApiError
from .lists import LISTS
from .models import VkCommunity, VkMembershipEvent, VkSubscription, VkToken, VkTokenCommunity, VkUser
from .services.communities import CommunityRefError, check_token, find_community, resolve_community, save_community
from .services.starters import (
    SUBSCRIBER_DETAILS_KIND,
    SUBSCRIBERS_KIND,
    start_list,
    start_profile_refresh,
    start_subscriber_sync,
)

VK_ID = re.compile(r"(?:https?://)?(?:www\.|m\.)?(?:vk\.com/)?(?:id|club|public)?(\d{1,18})/?", re.IGNORECASE)


def changelist_link(model, label, **params) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(params), label)


def ago(moment: datetime, now: datetime | None = None) -> str:
    seconds = max(0, int(((now or timezone.now()) - moment).total_seconds()))
    if seconds < 60:
        return gettext("just now")
    for text, size in ((gettext("%(n)s d ago"), 86400), (gettext("%(n)s h ago"), 3600), (gettext("%(n)s min ago"), 60)):
        if seconds >= size:
            return text % {"n": seconds // size}
    return gettext("just now")  # unreachable


def _number(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


COUNT_ORDER = ["members", "joined", "left", "fetched", "expected", "requested", "failed", "requests"]
# What the operator reads for each count a sync records; a name not listed here is shown as it is.
COUNT_LABELS = {
    "members": _("members"),
    "joined": _("joined"),
    "left": _("left"),
    "fetched": _("fetched"),
    "expected": _("expected"),
    "requested": _("requested"),
    "failed": _("failed"),
    "requests": _("requests"),
}


def describe_sync(kind: str, entry: dict, now: datetime | None = None) -> str:
    """`subscribers: ok 2 h ago (1,200 members, 5 joined, 3 left)`."""
    at = parse_datetime(entry.get("at") or "")
    when = ago(at, now) if at else gettext("at an unknown time")
    counts = entry.get("counts") or {}
    # PostgreSQL's jsonb does not keep key order: a fixed order, so the line always reads the same.
    names = sorted(
        counts, key=lambda name: (COUNT_ORDER.index(name) if name in COUNT_ORDER else len(COUNT_ORDER), name)
    )
    detail = ", ".join(f"{_number(counts[name])} {COUNT_LABELS.get(name, name)}" for name in names)
    return f"{kind}: {entry.get('result', '?')} {when}" + (f" ({detail})" if detail else "")


class VkIdSearchMixin:
    """A number (or id123 / club123 / a vk.com link to one) finds that id exactly (an index lookup);
    anything else searches `search_fields`."""

    id_lookup = "pk"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if match := VK_ID.fullmatch(term):
            return queryset.filter(**{self.id_lookup: int(match.group(1))}), False
        return super().get_search_results(request, queryset, term.removeprefix("@"))


# --- communities --------------------------------------------------------------------------------


class AddCommunityForm(forms.ModelForm):
    """Adding a community: the operator names it, VK says who it is."""

    ref = forms.CharField(
        label=_("Community"),
        max_length=300,
        help_text=_("Its screen name, id, club123 or vk.com link; VK is asked for its id, name and size."),
    )

    class Meta:
        model = VkCommunity
        fields = ()

    def clean_ref(self):
        ref = self.cleaned_data["ref"].strip()
        try:
            if existing := find_community(ref):
                raise forms.ValidationError(
                    gettext("Already added: %(community)s (id %(id)s).") % {"community": existing, "id": existing.pk}
                )
            self.resolved = resolve_community(ref)
        except CommunityRefError as exc:
            raise forms.ValidationError(str(exc)) from None
        except NoUsableToken:
            raise forms.ValidationError(
                gettext("No usable VK token: add one (VK tokens) or check the ones there.")
            ) from None
        except (TokenInvalid, TokenSetAside, VkApiError, HttpError) as exc:
            raise forms.ValidationError(
                gettext("VK could not resolve %(ref)s: %(error)s") % {"ref": repr(ref), "error": exc}
            ) from None
        return ref


@admin.register(VkCommunity)
class VkCommunityAdmin(VkIdSearchMixin, CommunityReportViews, admin.ModelAdmin):
    list_display = ("id", "screen_name", "name", "members_count", "last_syncs", "report_links")
    search_fields = ("screen_name", "name")
    search_help_text = _("A number (or club123) finds that community id; anything else searches screen name and name.")
    fields = ("id", "screen_name", "name", "members_count", "last_syncs", "links", "report_links")
    actions = ("sync_subscribers", "refresh_profiles")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = AddCommunityForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ("ref",) if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.fields  # everything here comes from VK and the syncs

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        community, _created = save_community(form.resolved)
        for field in VkCommunity._meta.concrete_fields:  # the admin goes on with `obj` (log, redirect)
            setattr(obj, field.attname, getattr(community, field.attname))
        obj._state.adding = False
        return None

    @admin.display(description=_("last syncs"))
    def last_syncs(self, community):
        if not community.last_sync:
            return gettext("never synced")
        now = timezone.now()
        return format_html_join(
            mark_safe("<br>"), "{}", ((describe_sync(k, v, now),) for k, v in sorted(community.last_sync.items()))
        )

    @admin.display(description=_("see also"))
    def links(self, community):
        if not community.pk:
            return "—"
        return format_html(
            "{} · {} · {} · {}",
            changelist_link(VkSubscription, gettext("members"), community__id__exact=community.pk, is_member__exact=1),
            changelist_link(VkMembershipEvent, gettext("joins and leaves"), community__id__exact=community.pk),
            changelist_link(JobRun, gettext("subscriber syncs"), kind__exact=SUBSCRIBERS_KIND, q=str(community)),
            changelist_link(
                JobRun, gettext("profile refreshes"), kind__exact=SUBSCRIBER_DETAILS_KIND, q=str(community)
            ),
        )

    def _start_jobs(self, request, queryset, start, what: str):
        mark = timezone.now()
        with transaction.atomic():
            jobs = [start(community=community, user=request.user) for community in queryset]
        new = [job for job in jobs if job.created_at >= mark]
        already = [job for job in jobs if job.created_at < mark]  # one was queued or running: that one
        message = format_html(
            gettext("Started {} {} job(s): {}"), len(new), what, job_links(new) if new else gettext("none")
        )
        if already:
            message = format_html(gettext("{}. Already under way: {}"), message, job_links(already))
        self.message_user(request, message, messages.SUCCESS)
        return jobs_redirect(jobs)  # the job's live page, or the list of them

    @admin.action(description=_("Sync subscribers"), permissions=["change"])
    def sync_subscribers(self, request, queryset):
        return self._start_jobs(request, queryset, start_subscriber_sync, gettext("subscriber sync"))

    @admin.action(description=_("Refresh profiles"), permissions=["change"])
    def refresh_profiles(self, request, queryset):
        return self._start_jobs(request, queryset, start_profile_refresh, gettext("profile refresh"))

    def get_actions(self, request):
        """One action per VK list (vk_sync.lists) besides the two above."""
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            return actions
        for name, vk_list in LISTS.items():
            if name in ("subscribers", "subscriber-details"):
                continue

            def start_this(modeladmin, request, queryset, name=name):
                start = functools.partial(start_list, name=name)
                return modeladmin._start_jobs(request, queryset, start, name)

            action_name = "sync_" + name.replace("-", "_")
            actions[action_name] = (start_this, action_name, vk_list.action)
        return actions


# --- tokens -------------------------------------------------------------------------------------


class VkTokenForm(forms.ModelForm):
    class Meta:
        model = VkToken
        fields = ("label", "kind", "token", "status", "rate_limited_until")

    def clean_token(self):
        value = self.cleaned_data.get("token")
        if value is KEEP and not (self.instance.pk and self.instance.token):
            raise forms.ValidationError(gettext("Paste the token: a new token needs one."))
        return value.strip() if isinstance(value, str) else value


class TokenCommunityInline(admin.TabularInline):
    model = VkTokenCommunity
    fields = ("community", "admin_level", "checked_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(VkToken)
class VkTokenAdmin(admin.ModelAdmin):
    form = VkTokenForm
    list_display = ("label", "kind", "status", "comes_back", "last_error_short", "last_used_at")
    list_filter = ("kind", "status")
    search_fields = ("label",)
    fieldsets = (
        (None, {"fields": ("label", "kind", "status", "rate_limited_until", "comes_back")}),
        (_("Token (write-only: leave empty to keep what is stored)"), {"fields": ("token",)}),
        (_("Activity"), {"fields": ("last_used_at", "last_error")}),
    )
    # Never `token` here: a read-only field is rendered as its value.
    readonly_fields = ("comes_back", "last_used_at", "last_error")
    inlines = (TokenCommunityInline,)
    actions = ("check_tokens",)

    @admin.display(description=_("rate limited until"), ordering="rate_limited_until")
    def comes_back(self, token):
        return future_time(token.rate_limited_until)

    @admin.display(description=_("last error"), ordering="last_error")
    def last_error_short(self, token):
        return Truncator(token.last_error).chars(80) if token.last_error else "—"

    @admin.action(description=_("Check token (one cheap VK call)"), permissions=["change"])
    def check_tokens(self, request, queryset):
        for token in queryset:
            check = check_token(token)
            self.message_user(request, check.message, messages.SUCCESS if check.ok else messages.ERROR)


# --- users, subscriptions, events (big, written by the syncs: read-only) -----------------------


@admin.register(VkUser)
class VkUserAdmin(VkIdSearchMixin, ReadOnlyAdminMixin, BigTableAdmin):
    list_display = ("id", "first_name", "last_name", "domain", "city", "gender", "deactivated", "last_seen")
    list_filter = ("sex", "gender")
    search_fields = ("first_name", "last_name", "domain")
    search_help_text = _("A number (or id123 / a vk.com link) finds that VK user id; anything else searches names.")
    ordering = ("id",)
    fields = (
        "id",
        "first_name",
        "last_name",
        "domain",
        "sex",
        "bdate",
        "city",
        "country",
        "photo",
        "has_mobile",
        "is_closed",
        "can_access_closed",
        "deactivated",
        "last_seen",
        "platform",
        "details_refreshed_at",
        "gender",
        "gender_reasons",
        "memberships",
    )
    readonly_fields = fields

    @admin.display(description=_("gender rationale"))
    def gender_reasons(self, user):
        return "; ".join(user.gender_rationale) or "-"

    @admin.display(description=_("communities"))
    def memberships(self, user):
        return changelist_link(VkSubscription, gettext("subscriptions of this user"), user__id__exact=user.pk)


@admin.register(VkSubscription)
class VkSubscriptionAdmin(VkIdSearchMixin, ReadOnlyAdminMixin, BigTableAdmin):
    id_lookup = "user_id"
    list_display = ("community", "user", "is_member", "first_joined_at", "left_at")
    list_filter = ("community", "is_member")
    list_select_related = ("community", "user")
    search_fields = ("user__first_name", "user__last_name")
    search_help_text = _("A number (or id123) finds that VK user's subscriptions; anything else searches names.")
    fields = ("community", "user", "is_member", "first_joined_at", "left_at")
    readonly_fields = fields


@admin.register(VkMembershipEvent)
class VkMembershipEventAdmin(VkIdSearchMixin, ReadOnlyAdminMixin, BigTableAdmin):
    id_lookup = "user_id"
    list_display = ("at", "kind", "community", "user", "job")
    list_filter = ("community", "kind")
    list_select_related = ("community", "user", "job")
    search_fields = ("user__first_name", "user__last_name")
    search_help_text = _("A number (or id123) finds that VK user's joins and leaves; anything else searches names.")
    date_hierarchy = "at"
    fields = ("at", "kind", "community", "user", "job")
    readonly_fields = fields
