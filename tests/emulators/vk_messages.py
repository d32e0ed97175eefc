"""Community messages for the VK emulator: `messages.getConversations` and `messages.getHistory`.

    with VkEmulator() as vk:
        messages = VkMessages(vk).install()
        vk.add_token("community-secret", "community", group_id=1)
        messages.add_dialogs(1, users=3000)          # + a few chat and community peers
        messages.crash_after(7)                       # the 7th getConversations on: connection dropped

What it answers, like VK (5.199):
- `messages.getConversations` (offset, count <= 200, extended, fields, filter=all, group_id):
  `{"count", "items": [{"conversation": {"peer": {"id", "type", "local_id"}, "can_write": {"allowed"[, "reason"]},
  "last_message_id", ...}, "last_message": {"date", "from_id", "id", "peer_id", "text", "out", ...}}],
  "unread_count"}`, plus `"profiles"` and `"groups"` with extended=1. Newest conversation first.
- `messages.getHistory` (peer_id, offset, count <= 200, rev): `{"count", "items": [{"date", "from_id", "id",
  "peer_id", "text", "out", ...}]}`; rev=1 puts the first message first. A peer the community has no
  conversation with answers count 0.
- Only a community token of that community may call them. A user token gets error 15 "Access denied: no
  access to call this method" (VK gives the `messages` right to user tokens only by special request, so an
  ordinary user token is refused that way); a service token gets 28; a community token of another
  community (group_id says so) gets 15 as well.

Fault injection: `crash_after(n)` drops the connection of the request carrying the n-th
getConversations call from now, and of every one after it until `recover()` (a run dies mid-way).
Activity: `new_message(group_id, peer_id)` moves a conversation to the top (or starts one), as when
someone writes while a sync runs. Counters: `calls[(token label, method)]`.
"""

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass

from .vk import BASE_TIME, DROP, TokenSpec, VkEmulator, VkError, _int, _user_object, synthetic_profile

CHAT_BASE = 2_000_000_000
ACCESS_DENIED = "Access denied: no access to call this method"
DEFAULT_PROFILE_FIELDS = {"sex", "screen_name", "photo_50", "photo_100", "online"}  # what VK adds by itself


@dataclass
class Dialog:
    peer_id: int  # user id; -group id; 2000000000 + chat id
    type: str  # user | group | chat
    can_write: bool
    messages: int  # how many messages the conversation has
    first_date: int
    first_from: int  # who wrote first: the user (peer_id) or the community (-group id)
    last_date: int
    last_from: int
    first_id: int  # message ids run first_id .. first_id + messages - 1

    @property
    def last_id(self) -> int:
        return self.first_id + self.messages - 1

    @property
    def local_id(self) -> int:
        if self.type == "chat":
            return self.peer_id - CHAT_BASE
        return abs(self.peer_id)


def synthetic_dialog_users(count: int, first_id: int = 500_000) -> list[int]:
    """`count` distinct ascending user ids with uneven gaps."""
    return [first_id + 13 * i + (i * i) % 7 for i in range(count)]


class VkMessages:
    def __init__(self, vk: VkEmulator):
        self.vk = vk
        self.dialogs: dict[int, list[Dialog]] = {}  # group id -> conversations, newest last message first
        self._by_peer: dict[int, dict[int, Dialog]] = {}  # group id -> peer id -> its conversation
        self.calls: Counter[tuple[str, str]] = Counter()  # (token label, method) -> calls that reached us
        self._next_id: dict[int, int] = {}
        self._crash_at: int | None = None  # getConversations calls to go before the crash
        self._crashed = False
        self._crash_times: int | None = None  # dropped requests left; None: until recover()
        self._local = threading.local()
        self._real_handle = None

    def install(self) -> "VkMessages":
        self.vk.register_method("messages.getConversations", self._get_conversations)
        self.vk.register_method("messages.getHistory", self._get_history)
        if self._real_handle is None:
            self._real_handle = self.vk.handle_http
            self.vk.handle_http = self._handle_http  # the request handler looks it up on the instance
        return self

    # --- the world ---------------------------------------------------------------
    def add_dialogs(
        self,
        group_id: int,
        users: int | list[int] = 3000,
        *,
        chats: int | None = None,
        groups: int | None = None,
        seed: int = 0,
    ) -> list[Dialog]:
        """A community's conversations: `users` user dialogs, plus chat and community peers (1 % each by default).

        Deterministic for a seed. About 60 % of the user dialogs were started by the user, the rest by the
        community; 85 % can be written to (a deleted or banned user never can). Dates lie before BASE_TIME.
        """
        rng = random.Random(seed)
        ids = synthetic_dialog_users(users) if isinstance(users, int) else sorted(set(users))
        chats = max(1, len(ids) // 100) if chats is None else chats
        groups = max(1, len(ids) // 100) if groups is None else groups
        made = []
        with self.vk._lock:
            next_id = self._next_id.get(group_id, 1)
            peers = [(uid, "user") for uid in ids]
            peers += [(CHAT_BASE + n + 1, "chat") for n in range(chats)]
            peers += [(-(900_000 + n), "group") for n in range(groups)]
            for peer_id, kind in peers:
                count = rng.randint(1, 40)
                first_date = BASE_TIME - rng.randrange(86_400, 400 * 86_400)
                last_date = first_date if count == 1 else rng.randrange(first_date + 60, BASE_TIME)
                if kind == "user":
                    profile = self.vk.users.get(peer_id) or synthetic_profile(peer_id)
                    can_write = "deactivated" not in profile and rng.random() < 0.85
                    first_from = peer_id if rng.random() < 0.6 else -group_id
                    last_from = first_from if count == 1 else rng.choice([peer_id, -group_id])
                else:
                    can_write = rng.random() < 0.5
                    first_from = last_from = rng.choice([-group_id, 100 + rng.randrange(10_000)])
                made.append(Dialog(peer_id, kind, can_write, count, first_date, first_from, last_date, last_from, 0))
            rng.shuffle(made)  # ids interleave with kinds before the date sort
            for dialog in made:
                dialog.first_id = next_id
                next_id += dialog.messages
            self._next_id[group_id] = next_id
            listed = self.dialogs.setdefault(group_id, [])
            listed.extend(made)
            self._by_peer.setdefault(group_id, {}).update((d.peer_id, d) for d in made)
            listed.sort(key=lambda d: (d.last_date, d.last_id), reverse=True)
        return made

    def user_dialogs(self, group_id: int) -> dict[int, Dialog]:
        with self.vk._lock:
            return {d.peer_id: d for d in self.dialogs.get(group_id, []) if d.type == "user"}

    def new_message(
        self, group_id: int, peer_id: int, *, from_id: int | None = None, date: int | None = None
    ) -> Dialog:
        """Someone writes: the conversation (a new one for an unknown user) moves to the top."""
        with self.vk._lock:
            listed = self.dialogs.setdefault(group_id, [])
            dialog = self._by_peer.setdefault(group_id, {}).get(peer_id)
            date = int(time.time()) if date is None else date
            from_id = peer_id if from_id is None else from_id
            if dialog is None:
                first_id = self._next_id.get(group_id, 1)
                self._next_id[group_id] = first_id + 1
                dialog = Dialog(peer_id, "user", True, 1, date, from_id, date, from_id, first_id)
                self._by_peer[group_id][peer_id] = dialog
            else:
                listed.remove(dialog)
                dialog.messages += 1
                dialog.last_date, dialog.last_from = date, from_id
            listed.insert(0, dialog)
            return dialog

    # --- fault injection -------------------------------------------------------------
    def crash_after(self, n: int = 1, *, times: int | None = None) -> None:
        """From the n-th getConversations call on, requests carrying one lose their connection.

        times=None: until recover(); else only that many requests are dropped.
        """
        with self.vk._lock:
            self._crash_at = n
            self._crashed = False
            self._crash_times = times

    def recover(self) -> None:
        with self.vk._lock:
            self._crash_at = None
            self._crashed = False
            self._crash_times = None

    def _handle_http(self, name, params, *, token_in_query=False):
        self._local.drop = False
        outcome = self._real_handle(name, params, token_in_query=token_in_query)
        if self._local.drop:
            self._local.drop = False
            return DROP
        return outcome

    def _maybe_crash(self) -> None:
        """Called with the lock held, for each getConversations call."""
        if self._crash_at is None:
            return
        if getattr(self._local, "drop", False):  # this request is dropped already
            raise VkError(10)
        if not self._crashed:
            self._crash_at -= 1
            if self._crash_at > 0:
                return
            self._crashed = True
        if self._crash_times is not None:
            if self._crash_times <= 0:
                self.recover()
                return
            self._crash_times -= 1
        self._local.drop = True
        raise VkError(10)  # the answer is never sent: the connection is dropped

    # --- methods (called with the emulator's lock held) -----------------------------
    def _community(self, params: dict, token: TokenSpec, method: str) -> list[Dialog]:
        self.calls[(token.label, method)] += 1
        if token.kind == "service":
            raise VkError(28)
        if token.kind != "community" or token.group_id is None:
            raise VkError(15, ACCESS_DENIED)
        wanted = params.get("group_id")
        if wanted not in (None, "") and abs(_int(params, "group_id")) != token.group_id:
            raise VkError(15, ACCESS_DENIED)
        return self.dialogs.get(token.group_id, [])

    def _get_conversations(self, params: dict, token: TokenSpec):
        listed = self._community(params, token, "messages.getConversations")
        self._maybe_crash()
        offset = _int(params, "offset", 0)
        count = _int(params, "count", 20)
        if offset < 0 or not 0 <= count <= 200:
            raise VkError(100, "One of the parameters specified was missing or invalid: count should be <= 200")
        if params.get("filter", "all") != "all":
            raise VkError(100, "One of the parameters specified was missing or invalid: the emulator has filter=all")
        page = listed[offset : offset + count]
        items = [
            {"conversation": self._conversation(d), "last_message": self._message(d, d.messages - 1)} for d in page
        ]
        out = {"count": len(listed), "items": items, "unread_count": 0}
        if params.get("extended") == "1":
            fields = DEFAULT_PROFILE_FIELDS | set(filter(None, params.get("fields", "").split(",")))
            peers = {d.peer_id for d in page if d.type != "chat"} | {d.last_from for d in page}
            out["profiles"] = [self._profile(uid, fields) for uid in sorted(p for p in peers if p > 0)]
            out["groups"] = [self._group(-gid) for gid in sorted(p for p in peers if p < 0)]
        return out

    def _get_history(self, params: dict, token: TokenSpec):
        self._community(params, token, "messages.getHistory")
        peer_id = _int(params, "peer_id", 0) or _int(params, "user_id")
        offset = _int(params, "offset", 0)
        count = _int(params, "count", 20)
        if offset < 0 or not 0 <= count <= 200:
            raise VkError(100, "One of the parameters specified was missing or invalid: count should be <= 200")
        dialog = self._by_peer.get(token.group_id, {}).get(peer_id)
        if dialog is None:
            return {"count": 0, "items": []}
        if params.get("rev") == "1":  # oldest first
            indexes = range(offset, min(dialog.messages, offset + count))
        else:
            indexes = range(dialog.messages - 1 - offset, max(-1, dialog.messages - 1 - offset - count), -1)
        return {"count": dialog.messages, "items": [self._message(dialog, i) for i in indexes]}

    # --- shapes ------------------------------------------------------------------------
    def _conversation(self, d: Dialog) -> dict:
        can_write = {"allowed": d.can_write}
        if not d.can_write:
            can_write["reason"] = 18 if d.type == "user" and "deactivated" in self._raw_profile(d.peer_id) else 901
        out = {
            "peer": {"id": d.peer_id, "type": d.type, "local_id": d.local_id},
            "last_message_id": d.last_id,
            "last_conversation_message_id": d.messages,
            "in_read": d.last_id,
            "out_read": d.last_id,
            "is_marked_unread": False,
            "important": False,
            "sort_id": {"major_id": 0, "minor_id": d.last_id},
            "can_write": can_write,
        }
        if d.type == "chat":
            out["chat_settings"] = {"title": f"Chat {d.local_id}", "members_count": 5, "owner_id": -1}
        return out

    def _message(self, d: Dialog, index: int) -> dict:
        """The index-th message of a conversation (0: the first)."""
        if index == 0:
            date, from_id = d.first_date, d.first_from
        elif index == d.messages - 1:
            date, from_id = d.last_date, d.last_from
        else:
            span = max(0, d.last_date - d.first_date)
            date = d.first_date + span * index // max(1, d.messages - 1)
            from_id = d.peer_id if (index % 2) == (d.first_from == d.peer_id) else d.first_from
            if d.type != "user":
                from_id = d.first_from
        return {
            "date": date,
            "from_id": from_id,
            "id": d.first_id + index,
            "out": int(from_id < 0),
            "peer_id": d.peer_id,
            "text": f"message {index + 1}",
            "conversation_message_id": index + 1,
            "fwd_messages": [],
            "attachments": [],
            "important": False,
            "is_hidden": False,
        }

    def _raw_profile(self, user_id: int) -> dict:
        return self.vk.users.get(user_id) or synthetic_profile(user_id)

    def _profile(self, user_id: int, fields: set[str]) -> dict:
        raw = self._raw_profile(user_id)
        if "screen_name" in fields and "domain" in raw:
            raw = {**raw, "screen_name": raw["domain"]}
        if "online" in fields and "deactivated" not in raw:
            raw = {**raw, "online": 0}
        return _user_object(raw, fields)

    def _group(self, group_id: int) -> dict:
        group = self.vk.groups.get(group_id)
        return {
            "id": group_id,
            "name": group.name if group else f"Community {group_id}",
            "screen_name": group.screen_name if group else f"club{group_id}",
            "is_closed": 0,
            "type": "page",
            "photo_50": f"https://vk.example/group/{group_id}_50.jpg",
            "photo_100": f"https://vk.example/group/{group_id}_100.jpg",
        }
