from django import template

from leadops.admin import progress_bar
from leadops.models import JobRun

register = template.Library()


@register.inclusion_tag("admin/leadops/latest_jobruns.html")
def latest_jobruns(limit: int = 10):
    jobs = list(JobRun.objects.select_related("triggered_by")[:limit])
    return {"jobs": [(job, progress_bar(job)) for job in jobs]}
