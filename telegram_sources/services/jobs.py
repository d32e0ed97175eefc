"""Export jobs as operators start them: a group export, the reference refresh."""

from django.utils import timezone

from leadops.jobs import track_job

from ..gateway import TelegramError, get_gateway
from ..models import TelegramGroup
from .export import LEAVE_COVERAGE, ExportResult, export_group
from .reference import reference_group, sync_reference


class ReferenceTooIncomplete(TelegramError):
    """The reference export saw too few members to trust it for clearing flags."""


def run_group_export(
    *, group_id: int, job_id: int, account: str | None = None, limit: int | None = None
) -> ExportResult:
    group = TelegramGroup.objects.get(pk=group_id)
    gateway = get_gateway(account)
    try:
        with track_job(job_id) as job:
            return export_group(gateway=gateway, group=group, job=job, limit=limit)
    finally:
        gateway.close()


def run_reference_refresh(*, job_id: int, account: str | None = None):
    """Export the reference group, then set `in_reference` from who is in it now.

    Flags are only synced from an export that saw (nearly) everyone: clearing
    them from a partial snapshot would put reference members among the seeders.
    """
    group = reference_group()
    gateway = get_gateway(account)
    try:
        with track_job(job_id) as job:
            result = export_group(gateway=gateway, group=group, job=job)
            if result.coverage is not None and result.coverage < LEAVE_COVERAGE:
                raise ReferenceTooIncomplete(
                    f"the reference export saw {result.fetched} of {result.participants_count} members "
                    f"({result.coverage:.1%}); flags were left as they were"
                )
            entries = group.memberships.filter(left_at__isnull=True).values_list("user__telegram_id", "user__username")
            synced = sync_reference(entries=entries.iterator(chunk_size=5000), synced_at=timezone.now())
            job.log(f"reference flags synced: {synced.summary()}")
            return synced
    finally:
        gateway.close()
