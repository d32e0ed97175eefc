"""The VK lists of seed 002, in one place: name (the command's word), JobRun kind,
the service that syncs it, and the admin action's label. The command, the tasks,
the starters and the admin all read this table, so a list is added once."""

from dataclasses import dataclass

from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class VkList:
    name: str
    kind: str
    service: str  # dotted path of `fn(*, community_id, job_id, client=None)`
    action: str  # lazily translated: the admin shows it in the user's language
    soft_time_limit: int = 60 * 60

    def run(self, *, community_id: int, job_id: int, client=None):
        return import_string(self.service)(community_id=community_id, job_id=job_id, client=client)


LISTS: dict[str, VkList] = {
    lst.name: lst
    for lst in [
        VkList(
            "subscribers",
            "vk-subscribers",
            "vk_sync.services.subscribers.sync_subscribers",
            _("Sync subscribers"),
            soft_time_limit=30 * 60,
        ),
        VkList(
            "subscriber-details",
            "vk-subscriber-details",
            "vk_sync.services.profiles.refresh_subscriber_details",
            _("Refresh profiles"),
        ),
        VkList("posts", "vk-posts", "vk_sync.services.posts.sync_posts", _("Sync posts")),
        VkList(
            "authors", "vk-authors", "vk_sync.services.authors.sync_authors", _("Sync authors (post authors' profiles)")
        ),
        VkList(
            "interactions",
            "vk-interactions",
            "vk_sync.services.interactions.sync_interactions",
            _("Sync likes, comments and reposts"),
            soft_time_limit=3 * 60 * 60,
        ),
        VkList(
            "interaction-users",
            "vk-interaction-users",
            "vk_sync.services.interactions.refresh_interaction_users",
            _("Refresh profiles of people who interacted"),
        ),
        VkList("mailing", "vk-mailing", "vk_sync.services.mailing.sync_mailing", _("Sync mailing list (dialogs)")),
        VkList(
            "mailing-analysis",
            "vk-mailing-analysis",
            "vk_sync.services.mailing_analysis.analyze_mailing",
            _("Analyse first messages (missing only)"),
        ),
    ]
}
# The contract's names (ARCHITECTURE): fixed, also for lists not in LISTS yet.
CONTRACT = [
    "subscribers",
    "subscriber-details",
    "posts",
    "authors",
    "interactions",
    "interaction-users",
    "mailing",
    "mailing-analysis",
]
