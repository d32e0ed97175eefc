"""Start Telegram jobs: one JobRun each, enqueued on the worker once the transaction commits.

The admin actions, the commands and the beat entries all start jobs through here.
"""

from django.db import transaction

from leadops.jobs import start_job, start_job_once
from leadops.models import JobRun

from ..models import TelegramGroup
from .reference import reference_group

EXPORT_KIND = "tg-export"
REFRESH_REFERENCE_KIND = "tg-refresh-reference"


def start_group_export(*, group: TelegramGroup, user=None, trigger: str = JobRun.Trigger.USER) -> JobRun:
    """Start an export, or return the one already queued or running for this group.

    Two exports of one group would share its checkpoint and trample each other.
    """
    from ..tasks import export_group_task  # the tasks module imports the services: import it late

    return start_job_once(
        kind=EXPORT_KIND,
        target=str(group),
        task=export_group_task,
        trigger=trigger,
        user=user,
        task_kwargs={"group_id": group.pk},
    )


def start_reference_refresh(*, user=None, trigger: str = JobRun.Trigger.USER) -> JobRun:
    """Raises ImproperlyConfigured when REFERENCE_GROUP is not set."""
    from ..tasks import refresh_reference_task

    with transaction.atomic():  # the group row reference_group() may create goes with the job
        return start_job(
            kind=REFRESH_REFERENCE_KIND,
            target=str(reference_group()),
            task=refresh_reference_task,
            trigger=trigger,
            user=user,
        )
