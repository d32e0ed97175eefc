"""HTTP responses for reports: a report built now, or a file the weekly job stored.

Only admin views call these (they check the permissions first): reports hold
members' names, so nothing here is reachable without a staff login. The HTML
page is sent with a Content-Security-Policy that allows nothing but its inline
styles, so even a name that slipped past escaping could not run or fetch anything.
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBadRequest
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import StoredReport
from .reports import PAGE_CSP, Report, render_csv, render_html, render_json

FORMATS = {
    "html": ("text/html; charset=utf-8", render_html),
    "csv": ("text/csv; charset=utf-8", render_csv),
    "json": ("application/json; charset=utf-8", render_json),
}


def _harden(response, fmt: str, filename: str):
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"  # personal data: no shared or disk cache keeps a copy
    if fmt == "html":
        response["Content-Security-Policy"] = PAGE_CSP
    else:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def report_response(report: Report, *, fmt: str, filename_stem: str) -> HttpResponse:
    """`report` rendered as html (shown in the browser), csv or json (downloaded)."""
    if fmt not in FORMATS:
        return HttpResponseBadRequest(f"format must be one of {', '.join(FORMATS)}")
    content_type, render = FORMATS[fmt]
    return _harden(HttpResponse(render(report), content_type=content_type), fmt, f"{filename_stem}.{fmt}")


def stored_report_response(stored: StoredReport, *, fmt: str) -> FileResponse:
    """One file of a stored report, read from media storage (404 when the format or the file is missing)."""
    if fmt not in FORMATS:
        raise Http404("no such format")
    field = getattr(stored, fmt)
    if not field.name or not field.storage.exists(field.name):
        raise Http404("the file is missing from media storage")
    name = field.name.rsplit("/", 1)[-1]
    response = FileResponse(field.open("rb"), content_type=FORMATS[fmt][0])
    return _harden(response, fmt, name)


class ReportAdminMixin:
    """Mixed into a ModelAdmin: `<pk>/report/?format=html|csv|json` (the object's report, built now) and
    a `report_links` column / read-only field linking to it and to the object's stored reports.

    The subclass names `report_kind` (a StoredReport.Kind) and builds the report in `build_report(obj)`.
    Needs the view permission on the object.
    """

    report_kind: str = ""

    def build_report(self, obj) -> Report:
        raise NotImplementedError

    def _report_url_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_report"

    def get_urls(self):
        view = self.admin_site.admin_view(self.report_view)
        # Before the model's own URLs, whose "<path:object_id>/" would take ".../report/".
        return [path("<path:object_id>/report/", view, name=self._report_url_name()), *super().get_urls()]

    def report_view(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("no such object")
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        stem = f"{self.report_kind}-{obj.pk}-{timezone.localdate():%Y%m%d}"
        return report_response(self.build_report(obj), fmt=request.GET.get("format", "html"), filename_stem=stem)

    @admin.display(description=_("report"))
    def report_links(self, obj):
        if not obj.pk:
            return "—"
        url = reverse(f"admin:{self._report_url_name()}", args=[obj.pk])
        stored = reverse("admin:leadops_storedreport_changelist")
        query = urlencode({"kind__exact": self.report_kind, "object_id": obj.pk})
        links = format_html_join(
            " · ", '<a class="report-{}" href="{}?format={}">{}</a>', ((f, url, f, f.upper()) for f in FORMATS)
        )
        return format_html('{} · <a class="report-stored" href="{}?{}">{}</a>', links, stored, query, gettext("stored"))
