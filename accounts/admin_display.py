"""Small display helpers shared by the accounts and join-targets admins."""

from datetime import timedelta
from math import ceil

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join


def countdown(delta: timedelta) -> str:
    """`in 2 h 13 min`, `in 5 min`, `in 3 d 4 h`; rounded up to the minute (it is not back any earlier)."""
    minutes = max(1, ceil(delta.total_seconds() / 60))
    if minutes >= 24 * 60:  # days and hours, the hours rounded up as well
        days, hours = divmod(ceil(minutes / 60), 24)
        return f"in {days} d {hours} h" if hours else f"in {days} d"
    hours, minutes = divmod(minutes, 60)
    return "in " + " ".join(([f"{hours} h"] if hours else []) + ([f"{minutes} min"] if minutes else []))


def future_time(value, *, now=None) -> str:
    """A moment with its countdown when it is still ahead; "—" when unset or past."""
    now = now or timezone.now()
    if not value or value <= now:
        return "—"
    return format_html('<span title="{} UTC">{}</span>', f"{value:%Y-%m-%d %H:%M}", countdown(value - now))


def jobrun_url(job) -> str:
    return reverse("admin:leadops_jobrun_change", args=[job.pk])


def job_links(jobs) -> str:
    return format_html_join(", ", '<a href="{}">#{} {}</a>', ((jobrun_url(job), job.pk, job.target) for job in jobs))
