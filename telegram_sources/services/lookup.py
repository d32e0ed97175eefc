"""Read-only questions to Telegram behind `manage.py tg info|participants|search|creation-date`."""

from datetime import datetime

from ..gateway import PAGE_SIZE, GroupInfo, Participant, TelegramGateway
from ..models import TelegramGroup


def group_info(*, gateway: TelegramGateway, ref) -> GroupInfo:
    return gateway.get_group(ref)


def list_participants(*, gateway: TelegramGateway, ref, limit: int, query: str = "") -> list[Participant]:
    """Members from the listing (or a search), bots left out, at most `limit`."""
    info = gateway.get_group(ref)
    people: list[Participant] = []
    offset = 0
    while len(people) < limit:
        page = gateway.get_participants_page(info.id, offset=offset, limit=PAGE_SIZE, query=query)
        if not page.participants:
            break
        offset += len(page.participants)
        people.extend(p for p in page.participants if not p.is_bot)
    return people[:limit]


def creation_date(*, gateway: TelegramGateway, ref) -> datetime | None:
    """The date of the group's first message; remembered on the group if we know it."""
    info = gateway.get_group(ref)
    created = gateway.get_first_message_date(info.id)
    if created:
        TelegramGroup.objects.filter(telegram_id=info.id).update(created_on=created)
    return created
