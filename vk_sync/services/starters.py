"""Start VK jobs: one JobRun each, enqueued on the worker once the transaction commits.

The admin actions and the beat entries start jobs through here; the command
runs the same services inline with a JobRun of its own.
"""

from leadops.jobs import start_job_once
from leadops.models import JobRun

from ..models import VkCommunity

SUBSCRIBERS_KIND = "vk-subscribers"
SUBSCRIBER_DETAILS_KIND = "vk-subscriber-details"


def _start(*, kind: str, task, community: VkCommunity, user, trigger: str) -> JobRun:
    """Start a job, or return the one already queued or running for this community and list."""
    return start_job_once(
        kind=kind,
        target=str(community),
        task=task,
        trigger=trigger,
        user=user,
        task_kwargs={"community_id": community.pk},
    )


def start_subscriber_sync(*, community: VkCommunity, user=None, trigger: str = JobRun.Trigger.USER) -> JobRun:
    from ..tasks import sync_subscribers_task  # the tasks module imports the services: import it late

    return _start(kind=SUBSCRIBERS_KIND, task=sync_subscribers_task, community=community, user=user, trigger=trigger)


def start_profile_refresh(*, community: VkCommunity, user=None, trigger: str = JobRun.Trigger.USER) -> JobRun:
    from ..tasks import refresh_subscriber_details_task

    return _start(
        kind=SUBSCRIBER_DETAILS_KIND,
        task=refresh_subscriber_details_task,
        community=community,
        user=user,
        trigger=trigger,
    )


def start_list(*, name: str, community: VkCommunity, user=None, trigger: str = JobRun.Trigger.USER) -> JobRun:
    """Any list of vk_sync.lists as a job on the worker (the same list of a community runs once at a time)."""
    from ..lists import LISTS
    from ..tasks import run_list_task

    vk_list = LISTS[name]
    return start_job_once(
        kind=vk_list.kind,
        target=str(community),
        task=run_list_task,
        trigger=trigger,
        user=user,
        task_kwargs={"list_name": name, "community_id": community.pk},
    )
