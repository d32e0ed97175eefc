"""The group report in the admin: `<pk>/report/?format=html|csv|json` and the "report" links.

Mixed into `TelegramGroupAdmin`; the view and links are `leadops.report_views.ReportAdminMixin`,
the numbers `telegram_sources.reports.group_report`.
"""

from leadops.models import StoredReport
from leadops.report_views import ReportAdminMixin

from .reports import group_report


class GroupReportViews(ReportAdminMixin):
    report_kind = StoredReport.Kind.TELEGRAM

    def build_report(self, group):
        return group_report(group=group)
