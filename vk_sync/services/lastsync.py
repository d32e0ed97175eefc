"""What the wall lists (posts, authors, interactions, interaction-users) share: their `last_sync` record."""

from django.db import transaction
from django.utils import timezone

from ..models import VkCommunity


def record_sync(community_id: int, kind: str, result: str, counts: dict, **extra) -> dict:
    """community.last_sync[kind] = {"at", "result", "counts", ...}; the other lists' entries are kept.

    The row is locked while its JSON is rewritten, so two lists finishing at once both keep their entry.
    """
    entry = {"at": timezone.now().isoformat(), "result": result, "counts": counts, **extra}
    save_last_sync(community_id, kind, entry)
    return entry


def save_last_sync(community_id: int, kind: str, entry: dict) -> None:
    """One key of community.last_sync, read and written under a row lock (other lists write theirs)."""
    with transaction.atomic():
        community = VkCommunity.objects.select_for_update().get(pk=community_id)
        community.last_sync[kind] = entry
        community.save(update_fields=["last_sync"])
