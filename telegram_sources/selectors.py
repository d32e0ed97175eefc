"""Reads of Telegram data."""

from collections.abc import Iterator

from django.conf import settings

from .gateway import parse_group_ref
from .models import TelegramGroup


def reference_group_lookup() -> dict:
    """Field lookups for the group REFERENCE_GROUP names (an id or a username); {} when unset."""
    if not settings.REFERENCE_GROUP:
        return {}
    ref = parse_group_ref(settings.REFERENCE_GROUP)
    return {"telegram_id": ref} if isinstance(ref, int) else {"username__iexact": ref}


def find_reference_group() -> TelegramGroup | None:
    lookup = reference_group_lookup()
    return TelegramGroup.objects.filter(**lookup).first() if lookup else None


def current_member_rows(group: TelegramGroup) -> Iterator[dict]:
    """Who is in the group as of its last export (no bots, nobody who left), as file rows."""
    members = (
        group.memberships.filter(left_at__isnull=True, user__is_bot=False)
        .order_by("user__telegram_id")
        .values_list(
            "user__telegram_id",
            "user__username",
            "user__first_name",
            "user__last_name",
            "user__phone",
            "user__is_verified",
            "user__is_premium",
            "user__status",
        )
    )
    for tid, username, first, last, phone, verified, premium, status in members.iterator(chunk_size=5000):
        yield {
            "id": tid,
            "username": username or None,
            "first_name": first or None,
            "last_name": last or None,
            "phone": phone or None,
            "is_verified": verified,
            "is_premium": premium,
            "status": status or None,
        }
