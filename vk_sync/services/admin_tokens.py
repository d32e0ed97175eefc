"""Which tokens administer a community (wall.getReposts needs admin level 3), cached in VkTokenCommunity.

`groups.getById` answers is_admin / admin_level for the token that asks. Tokens with no fresh answer
in VkTokenCommunity (checked_at within ADMIN_CHECK_TTL) are asked in parallel, one call each; the
answers are stored per token and community. A community token's row is only ever updated, never
created here: such rows decide which communities a community token reads (VkClient.from_db).
A token VK later refuses (error 15 in wall.getReposts) is written down as level 0 (`demote`).
"""

import logging
import threading
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from ..client import TokenHandle, VkApiError, VkClient
from ..models import VkToken, VkTokenCommunity

log = logging.getLogger(__name__)

ADMIN_LEVEL = 3  # administrator (1 moderator, 2 editor)
ADMIN_CHECK_TTL = timedelta(hours=12)


def _ask(client: VkClient, token: TokenHandle, community_id: int) -> int | None:
    """The token's admin level in the community; None when VK did not answer."""
    try:
        response = client.call("groups.getById", {"group_id": community_id}, token=token)
    except VkApiError as exc:  # the token is set aside or invalid: unknown for now
        log.info("admin check of %s in %s: %s", token.label, community_id, exc)
        return None
    groups = response.get("groups", []) if isinstance(response, dict) else response or []
    group = next((g for g in groups if int(g.get("id", 0)) == community_id), None)
    if group is None or not group.get("is_admin"):
        return 0
    return int(group.get("admin_level") or 0)


def admin_levels(client: VkClient, community_id: int) -> tuple[dict[str, int], int]:
    """label -> admin level of every usable token (cached or asked), and how many requests that took."""
    tokens = client.usable_tokens()
    fresh = timezone.now() - ADMIN_CHECK_TTL
    cached = {
        row.token_id: row.admin_level
        for row in VkTokenCommunity.objects.filter(
            community_id=community_id, token_id__in=[t.pk for t in tokens if t.pk], checked_at__gte=fresh
        )
    }
    levels = {t.label: cached[t.pk] for t in tokens if t.pk in cached}
    to_ask = [t for t in tokens if t.label not in levels]
    answers: dict[str, int | None] = {}

    def ask(token: TokenHandle):
        try:
            answers[token.label] = _ask(client, token, community_id)
        except Exception as exc:  # HTTP trouble after the client's retries, or the database was busy
            log.info("admin check of %s in %s failed: %s", token.label, community_id, type(exc).__name__)
        finally:
            connection.close()  # the client touched VkToken.last_used_at from this thread

    threads = [threading.Thread(target=ask, args=(t,), daemon=True) for t in to_ask]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    again = [t for t in to_ask if t.label not in answers]
    for token in again:  # once more, one at a time
        try:
            answers[token.label] = _ask(client, token, community_id)
        except Exception as exc:
            log.info("admin check of %s in %s failed again: %s", token.label, community_id, type(exc).__name__)
    for token in to_ask:
        level = answers.get(token.label)
        if level is None:
            continue
        levels[token.label] = level
        _store(token, community_id, level)
    return levels, len(to_ask) + len(again)


def admin_tokens(client: VkClient, community_id: int) -> tuple[list[TokenHandle], int]:
    """The usable tokens with admin level >= 3 in the community, and the requests the check took."""
    levels, requests = admin_levels(client, community_id)
    return [t for t in client.usable_tokens() if levels.get(t.label, 0) >= ADMIN_LEVEL], requests


def demote(token: TokenHandle, community_id: int) -> None:
    _store(token, community_id, 0)


def _store(token: TokenHandle, community_id: int, level: int) -> None:
    if token.pk is None:
        return
    values = {"admin_level": level, "checked_at": timezone.now()}
    if token.kind == VkToken.Kind.COMMUNITY:
        VkTokenCommunity.objects.filter(token_id=token.pk, community_id=community_id).update(**values)
    else:
        VkTokenCommunity.objects.update_or_create(token_id=token.pk, community_id=community_id, defaults=values)
