"""Celery tasks: thin. They take ids, run one service, and leave the outcome on the JobRun.

acks_late is on: the subscriber apply is one transaction and idempotent (a
second run over the same list finds nothing new), and a profile refresh only
overwrites profiles, so a task redelivered after a worker died is harmless.
There is no automatic retry: a sync that fetched too little (SyncAborted) or
found no usable token fails its JobRun with the reason, and the next run (the
schedule, or an operator) starts fresh.
"""

from celery import shared_task

from leadops.models import JobRun

from .services.profiles import refresh_subscriber_details
from .services.subscribers import sync_subscribers

SUBSCRIBER_LIMITS = {"soft_time_limit": 30 * 60, "time_limit": 30 * 60 + 120, "acks_late": True}
PROFILE_LIMITS = {"soft_time_limit": 60 * 60, "time_limit": 60 * 60 + 120, "acks_late": True}


@shared_task(**SUBSCRIBER_LIMITS)
def sync_subscribers_task(community_id: int, job_id: int) -> dict:
    return sync_subscribers(community_id=community_id, job_id=job_id).counts()


@shared_task(**PROFILE_LIMITS)
def refresh_subscriber_details_task(community_id: int, job_id: int) -> dict:
    return refresh_subscriber_details(community_id=community_id, job_id=job_id)


@shared_task(bind=True, acks_late=True, soft_time_limit=60 * 60, time_limit=60 * 60 + 120)
def run_list_task(self, list_name: str, community_id: int, job_id: int) -> str:
    """Any list of vk_sync.lists: the services upsert and resume, so a redelivered task is harmless."""
    from .lists import LISTS

    result = LISTS[list_name].run(community_id=community_id, job_id=job_id)
    return str(result)


@shared_task
def scheduled_subscriber_syncs() -> list[int]:
    """What the daily beat entry runs: one subscriber sync job per community."""
    from .models import VkCommunity
    from .services.starters import start_subscriber_sync

    return [
        start_subscriber_sync(community=community, trigger=JobRun.Trigger.SCHEDULE).pk
        for community in VkCommunity.objects.order_by("pk")
    ]


@shared_task
def scheduled_profile_refreshes() -> list[int]:
    """What the weekly beat entry runs: one profile refresh job per community."""
    from .models import VkCommunity
    from .services.starters import start_profile_refresh

    return [
        start_profile_refresh(community=community, trigger=JobRun.Trigger.SCHEDULE).pk
        for community in VkCommunity.objects.order_by("pk")
    ]


def _start_for_every_community(*names: str) -> list[int]:
    from .models import VkCommunity
    from .services.starters import start_list

    return [
        start_list(name=name, community=community, trigger=JobRun.Trigger.SCHEDULE).pk
        for community in VkCommunity.objects.order_by("pk")
        for name in names
    ]


@shared_task
def scheduled_post_syncs() -> list[int]:
    """Daily: posts (and, from them, authors) of every community."""
    return _start_for_every_community("posts", "authors")


@shared_task
def scheduled_interaction_syncs() -> list[int]:
    """Daily, after the posts: likes, comments and reposts, then the profiles of who interacted."""
    return _start_for_every_community("interactions", "interaction-users")


@shared_task
def scheduled_mailing_syncs() -> list[int]:
    """Daily: the dialogs of every community, and the first message of dialogs not analysed yet."""
    return _start_for_every_community("mailing", "mailing-analysis")


@shared_task(soft_time_limit=30 * 60, time_limit=30 * 60 + 120)
def refresh_genders_task() -> int:
    """Beat: the gender of VK users written without a profile's sex (new members, authors...)."""
    from .services.gender import refresh_genders

    return refresh_genders()
