"""The community report in the admin: `<id>/report/?format=html|csv|json` and the "report" links.

Mixed into `VkCommunityAdmin`; the view and links are `leadops.report_views.ReportAdminMixin`,
the numbers `vk_sync.reports.community_report`.
"""

from leadops.models import StoredReport
from leadops.report_views import ReportAdminMixin

from .reports import community_report


class CommunityReportViews(ReportAdminMixin):
    report_kind = StoredReport.Kind.VK

    def build_report(self, community):
        return community_report(community=community)
