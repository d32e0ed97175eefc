"""A Telegram that behaves: caps, hidden member lists, private groups, FloodWait.

Every method is one "request" and passes the same per-account limiter and
FloodWait policy as the Telethon adapter (limits.limited_call).
"""

import time
from datetime import datetime

from .fake_world import FakeGroup, FakeWorld, demo_world
from .gateway import (
    PAGE_SIZE,
    AccessDenied,
    FloodWait,
    GroupInfo,
    InviteExpired,
    JoinResult,
    NotFound,
    ParticipantsPage,
    SessionRevoked,
)
from .limits import limited_call


class FakeTelegramGateway:
    world: FakeWorld | None = None  # shared by every instance in the process; tests install their own

    def __init__(self, account: str = "default"):
        self.account = account

    @classmethod
    def use_world(cls, world: FakeWorld | None) -> None:
        cls.world = world

    @classmethod
    def current_world(cls) -> FakeWorld:
        if cls.world is None:
            cls.world = demo_world()
        return cls.world

    def _request(self, method: str, answer):
        def send():
            world = self.current_world()
            world.requests.append((time.time(), self.account, method))
            if self.account in world.revoked_sessions:
                raise SessionRevoked(f"{self.account}: the session was revoked")
            return answer()

        return limited_call(self.account, send)

    def _group(self, ref) -> FakeGroup:
        group = self.current_world().find(ref)
        if group.private:
            raise AccessDenied(f"{group.info.title}: this account cannot see the group")
        return group

    def get_group(self, ref) -> GroupInfo:
        return self._request("get_group", lambda: self._group(ref).info)

    def get_participants_page(self, group_id, *, offset, limit=PAGE_SIZE, query=""):
        def answer():
            group = self._group(group_id)
            page = offset // max(1, limit) + 1
            seconds = group.flood_waits.pop((query, page), None)
            if seconds:
                raise FloodWait(seconds, self.account)
            people = group.admins if group.hidden else group.members
            if query:
                people = group.search(query.lower(), people)
            count = len(people)
            cap = group.search_cap if query else group.listing_cap
            visible = people[:cap] if cap is not None and not group.hidden else people
            return ParticipantsPage(participants=visible[offset : offset + min(limit, PAGE_SIZE)], count=count)

        return self._request("get_participants", answer)

    def get_first_message_date(self, group_id) -> datetime | None:
        return self._request("get_first_message_date", lambda: self._group(group_id).first_message_date)

    def join(self, *, username=None, invite_hash=None) -> JoinResult:
        def answer():
            world = self.current_world()
            waits = world.join_flood_waits.get(self.account)
            if waits:
                raise FloodWait(waits.pop(0), self.account)
            if invite_hash is not None:
                if invite_hash not in world.invites:
                    raise NotFound(f"no invite {invite_hash}")
                if world.invites[invite_hash] is None:
                    raise InviteExpired("the invite link has expired")
                group = world.groups[world.invites[invite_hash]]
            else:
                try:
                    group = world.find(username)
                except NotFound:
                    raise NotFound(f"username {username} is not occupied") from None
                if group.private:
                    raise AccessDenied(f"{group.title}: the channel is private")
            if group.admin_required:
                raise AccessDenied(f"{group.title}: joining needs an admin's approval")
            already = self.account in group.joined_by
            group.joined_by.add(self.account)
            return JoinResult(group_id=group.id, title=group.title, already_member=already)

        return self._request("join", answer)

    def can_post(self, group_id) -> bool:
        def answer():
            group = self.current_world().groups[group_id]
            return self.account in group.joined_by and not group.broadcast

        return self._request("can_post", answer)

    def close(self) -> None:
        pass
