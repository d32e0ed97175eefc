"""Join-target links as operators paste them, normalised."""

import re
from dataclasses import dataclass

_PREFIX = re.compile(r"^(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me|telegram\.dog)/", re.IGNORECASE)
_INVITE = re.compile(r"^(?:\+|joinchat/)([A-Za-z0-9_-]{10,64})/?$")
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")


class BadLink(ValueError):
    pass


@dataclass(frozen=True)
class TargetRef:
    username: str = ""  # "@name", lower-case (Telegram usernames are case-insensitive)
    invite_hash: str = ""


def parse_link(link: str) -> TargetRef:
    """`https://t.me/x`, `t.me/x`, `telegram.me/x`, `@x`, `x` -> @x; `t.me/+hash`, `t.me/joinchat/hash` -> invite."""
    text = link.strip()
    had_prefix = bool(_PREFIX.match(text))
    rest = _PREFIX.sub("", text).split("?", 1)[0]
    if invite := _INVITE.match(rest):
        return TargetRef(invite_hash=invite.group(1))
    if text.startswith("+") and not had_prefix and (invite := _INVITE.match(text)):
        return TargetRef(invite_hash=invite.group(1))
    name = rest.strip("/").lstrip("@")
    if "/" in name:  # t.me/name/123 points at a message in the group
        name = name.split("/", 1)[0]
    if not _USERNAME.match(name):
        raise BadLink(f"not a Telegram group link or username: {link!r}")
    return TargetRef(username="@" + name.lower())
