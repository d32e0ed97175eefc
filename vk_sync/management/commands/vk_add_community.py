"""`manage.py vk_add_community COMMUNITY`: resolve a community through VK and add it (or show the known one)."""

from django.core.management.base import BaseCommand, CommandError

from leadops.http import HttpError
from vk_sync.client import NoUsableToken, TokenInvalid, TokenSetAside, VkApiError
from vk_sync.services.communities import CommunityRefError, find_community, resolve_community, save_community


class Command(BaseCommand):
    help = "Add a VK community by its id, club123, screen name or vk.com link (one VK call when it is new)."

    def add_arguments(self, parser):
        parser.add_argument("community", metavar="COMMUNITY", help="VK id, club123, screen name or vk.com link")
        parser.add_argument("--refresh", action="store_true", help="ask VK again even when it is known")

    def handle(self, *args, community: str, refresh: bool, **options):
        try:
            row = None if refresh else find_community(community)
            created = False
            if row is None:
                row, created = save_community(resolve_community(community))
        except (CommunityRefError, NoUsableToken, TokenInvalid, TokenSetAside, VkApiError, HttpError) as exc:
            raise CommandError(" ".join(str(exc).split()) or type(exc).__name__) from None
        state = "added" if created else "known"
        members = f"{row.members_count:,} members" if row.members_count is not None else "members unknown"
        self.stdout.write(f"{state}: {row} (id {row.pk}, {row.screen_name or '-'}, {members})")
