"""Group comparison in the admin: the "Compare with reference" action, the "Compare groups" page, CSV lists.

Mixed into `TelegramGroupAdmin`, which supplies permissions and the admin site.
Thin: every number comes from `telegram_sources.comparison` (or
`vk_sync.comparison` when B is a VK community), every CSV row from their
`member_rows` / `vk_member_rows`, streamed. Looking needs the view permission on
groups; comparing with a VK community also needs it on VK communities.
"""

import csv

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from vk_sync import comparison as vk_comparison
from vk_sync.models import VkCommunity

from . import comparison
from .models import TelegramGroup

VK_VIEW_PERM = "vk_sync.view_vkcommunity"
PART_LABELS = {"overlap": _("in both"), "only_a": _("only in A"), "only_b": _("only in B")}
REFERENCE_LABELS = {"overlap": _("in both"), "only_a": _("only in the group"), "only_b": _("only in the reference")}
REFERENCE = "ref"  # B = the reference snapshot (in_reference), as "Compare with reference" uses


def csv_safe(value):
    """Names come from Telegram and VK: never let one start a spreadsheet formula. Numbers stay numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return f"'{value}"
    return "" if value is None else value


class Echo:
    """A file-like object whose write() hands the line back, so csv.writer can feed a streaming response."""

    def write(self, value):
        return value


def b_key(b) -> str:
    if b == REFERENCE:
        return REFERENCE
    return f"vk:{b.pk}" if isinstance(b, VkCommunity) else f"tg:{b.pk}"


class CompareForm(forms.Form):
    """A: a Telegram group; B: a Telegram group, the reference snapshot, or (with the VK view permission)
    a VK community. B's value is tg:PK, ref or vk:ID."""

    a = forms.ModelChoiceField(TelegramGroup.objects.order_by("title", "pk"), label=_("Telegram group A"))
    b = forms.ChoiceField(label=_("B: the reference, a Telegram group or a VK community"))

    def __init__(self, *args, with_vk: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.with_vk = with_vk
        groups = [(f"tg:{group.pk}", str(group)) for group in TelegramGroup.objects.order_by("title", "pk")]
        reference = [(REFERENCE, gettext("Reference snapshot (users flagged in_reference)"))]
        choices = [("", "---------"), (gettext("Reference"), reference), (gettext("Telegram groups"), groups)]
        if with_vk:
            communities = [(f"vk:{c.pk}", str(c)) for c in VkCommunity.objects.order_by("name", "pk")]
            choices.append((gettext("VK communities (matched by username: partial)"), communities))
        self.fields["b"].choices = choices

    def clean_b(self):
        if self.cleaned_data["b"] == REFERENCE:
            return REFERENCE
        kind, _sep, pk = self.cleaned_data["b"].partition(":")
        model = {"tg": TelegramGroup, "vk": VkCommunity if self.with_vk else None}.get(kind)
        found = model.objects.filter(pk=int(pk)).first() if model and pk.lstrip("-").isdigit() else None
        if found is None:
            raise forms.ValidationError(gettext("Pick a Telegram group or a VK community."))
        return found


class CsvForm(CompareForm):
    part = forms.ChoiceField(choices=[(part, part) for part in comparison.PARTS])


def compare(a: TelegramGroup, b) -> comparison.Comparison:
    if b == REFERENCE:
        return comparison.compare_with_reference(group=a)
    if isinstance(b, VkCommunity):
        return vk_comparison.compare_vk_with_telegram(group=a, community=b)
    return comparison.compare_groups(a=a, b=b)


def csv_links(a: TelegramGroup, b) -> dict[str, str]:
    url = reverse("admin:telegram_sources_telegramgroup_compare_csv")
    return {part: f"{url}?{urlencode({'a': a.pk, 'b': b_key(b), 'part': part})}" for part in comparison.PARTS}


def result_row(a: TelegramGroup, b) -> dict:
    return {"comparison": compare(a, b), "links": csv_links(a, b), "a": a, "b": b}


class GroupComparisonViews:
    def get_urls(self):
        view = self.admin_site.admin_view
        return [  # before the model's own URLs: "<path:object_id>/" would take "compare/"
            path("compare/", view(self.compare_view), name="telegram_sources_telegramgroup_compare"),
            path("compare/csv/", view(self.compare_csv_view), name="telegram_sources_telegramgroup_compare_csv"),
            *super().get_urls(),
        ]

    def _render_comparison(self, request, template, title, **context):
        request.current_app = self.admin_site.name
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": title, **context}
        return TemplateResponse(request, f"admin/telegram_sources/telegramgroup/{template}", context)

    def _require_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied

    @admin.action(description=_("Compare with reference"), permissions=["view"])
    def compare_with_reference(self, request, queryset):
        try:
            reference = comparison.reference_members()
        except ImproperlyConfigured as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        rows = [result_row(group, REFERENCE) for group in queryset.order_by("title", "pk")]
        return self._render_comparison(
            request,
            "compare_reference.html",
            gettext("Compared with the reference"),
            rows=rows,
            reference=reference.label,
            part_labels=REFERENCE_LABELS,
        )

    def compare_view(self, request):
        self._require_view(request)
        with_vk = request.user.has_perm(VK_VIEW_PERM)
        form = CompareForm(request.GET or None, with_vk=with_vk)
        rows = []
        if form.is_valid():
            a, b = form.cleaned_data["a"], form.cleaned_data["b"]
            try:
                rows = [result_row(a, b)]
            except ImproperlyConfigured as exc:  # the reference snapshot, asked for before there is one
                self.message_user(request, str(exc), messages.ERROR)
        labels = REFERENCE_LABELS if form.is_valid() and form.cleaned_data["b"] == REFERENCE else PART_LABELS
        return self._render_comparison(
            request, "compare.html", gettext("Compare groups"), form=form, rows=rows, part_labels=labels
        )

    def compare_csv_view(self, request):
        self._require_view(request)
        form = CsvForm(request.GET, with_vk=request.user.has_perm(VK_VIEW_PERM))
        if not form.is_valid():
            return HttpResponseBadRequest("Give a (a Telegram group), b (tg:ID, ref or vk:ID) and part.")
        a, b, part = form.cleaned_data["a"], form.cleaned_data["b"], form.cleaned_data["part"]
        if b == REFERENCE:
            try:
                header, rows = comparison.ROW_COLUMNS, comparison.reference_rows(group=a, part=part)
            except ImproperlyConfigured as exc:
                return HttpResponseBadRequest(str(exc))
        elif isinstance(b, VkCommunity):
            header = vk_comparison.columns(part)
            rows = vk_comparison.vk_member_rows(community=b, group=a, part=part)
        else:
            header, rows = comparison.ROW_COLUMNS, comparison.member_rows(a=a, b=b, part=part)
        writer = csv.writer(Echo())

        def lines():
            try:
                yield writer.writerow(header)
                for row in rows:
                    yield writer.writerow([csv_safe(value) for value in row])
            finally:  # a download cut short ends the rows' transaction and cursor now, not at garbage collection
                rows.close()

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        filename = f"group{a.pk}-vs-{b_key(b).replace(':', '')}-{part}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
