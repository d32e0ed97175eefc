"""Communities and tokens as the operator names them: add a community by its
screen name, id or link (resolved through the VK client), and check a token
with one cheap call.

Nothing here ever puts a token's secret into a message, a log line or an error.
"""

import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from leadops.http import HttpError

from ..client import TokenHandle, TokenInvalid, TokenSetAside, VkApiError, VkClient
from ..models import VkCommunity, VkToken

URL = re.compile(r"(?:https?://)?(?:www\.|m\.)?vk\.(?:com|ru)/([^/?#\s]+)/?(?:[?#].*)?", re.IGNORECASE)
NUMERIC_ALIAS = re.compile(r"(?:club|public|event)(\d{1,19})", re.IGNORECASE)
NUMBER = re.compile(r"-?\d{1,19}")
SCREEN_NAME = re.compile(r"[A-Za-z0-9_.]{2,64}")
INVALID_TOKEN = 5  # VK: user authorization failed (token revoked, expired or wrong)


class CommunityRefError(ValueError):
    """The text does not name a VK community (id, club123, screen name or vk.com link)."""


def parse_community_ref(ref: str) -> int | str:
    """`123`, `-123`, `club123`, `public123` -> 123; `name`, `@name`, `vk.com/name` -> "name"."""
    text = (ref or "").strip()
    if match := URL.fullmatch(text):
        text = match.group(1)
    elif "/" in text or ":" in text:
        raise CommunityRefError(f"not a VK community link: {ref!r} (expected vk.com/NAME)")
    text = text.removeprefix("@")
    if match := NUMERIC_ALIAS.fullmatch(text):
        text = match.group(1)
    if NUMBER.fullmatch(text):
        group_id = abs(int(text))
        if not 0 < group_id < 2**63:
            raise CommunityRefError(f"not a VK community id: {ref!r}")
        return group_id
    if SCREEN_NAME.fullmatch(text):
        return text.lower()
    raise CommunityRefError(f"not a VK community: {ref!r} (give its id, club123, its screen name or its vk.com link)")


def find_community(ref: str) -> VkCommunity | None:
    """The community already in the database under that id or screen name (no VK call)."""
    key = parse_community_ref(ref)
    if isinstance(key, int):
        return VkCommunity.objects.filter(pk=key).first()
    return VkCommunity.objects.filter(screen_name__iexact=key).first()


def resolve_community(ref: str, *, client: VkClient | None = None) -> dict:
    """Ask VK who `ref` is: {"id", "screen_name", "name", "members_count"}. Writes nothing."""
    key = parse_community_ref(ref)
    client = client or VkClient.from_db()
    return client.resolve_community(key)


@transaction.atomic
def save_community(info: dict) -> tuple[VkCommunity, bool]:
    """Create or update the community VK described; its sync history (last_sync) is kept."""
    return VkCommunity.objects.update_or_create(
        pk=int(info["id"]),
        defaults={
            "screen_name": (info.get("screen_name") or "")[:128],
            "name": (info.get("name") or "")[:255],
            "members_count": info.get("members_count"),
        },
    )


def get_or_add_community(ref: str, *, client: VkClient | None = None) -> VkCommunity:
    """The community named by `ref`; one VK call to resolve and add it when it is not known yet."""
    return find_community(ref) or save_community(resolve_community(ref, client=client))[0]


# --- tokens -----------------------------------------------------------------------------------


@dataclass
class TokenCheck:
    ok: bool
    message: str


def _scrub(text: str, secret: str) -> str:
    text = str(text)
    return text.replace(secret, "***") if secret else text


def check_token(token: VkToken, *, client: VkClient | None = None) -> TokenCheck:
    """One cheap call with this token: users.get (user/service) or groups.getById (community).

    VK error 5 marks the token invalid; a token that answers is marked active
    again (an operator who pasted a new secret checks it here). A rate limit
    leaves the status to the client, which has set the token aside.
    """
    secret = token.token or ""
    if not secret:
        return _record(token, ok=False, invalid=True, message=f"Token {token.label}: no token stored")
    handle = TokenHandle(pk=token.pk, label=token.label, kind=token.kind, secret=secret)
    client = client or VkClient([handle])  # just this token, whatever its status
    method = "groups.getById" if token.kind == VkToken.Kind.COMMUNITY else "users.get"
    params = {} if token.kind == VkToken.Kind.COMMUNITY else {"user_ids": "1"}
    try:
        client.call(method, params, token=handle)
    except TokenInvalid as exc:
        reason = _scrub(exc, secret)
        return _record(
            token, ok=False, invalid=True, message=f"Token {token.label}: invalid ({reason}); marked invalid"
        )
    except TokenSetAside as exc:
        reason = _scrub(exc, secret)
        return TokenCheck(False, f"Token {token.label}: rate limited, set aside for now ({reason})")
    except VkApiError as exc:
        reason = _scrub(exc, secret)
        if getattr(exc, "code", None) == INVALID_TOKEN:
            return _record(
                token, ok=False, invalid=True, message=f"Token {token.label}: invalid ({reason}); marked invalid"
            )
        return _record(
            token, ok=False, invalid=False, message=f"Token {token.label}: VK answered with an error: {reason}"
        )
    except HttpError as exc:  # VK unreachable: says nothing about the token
        reason = _scrub(exc, secret)
        return TokenCheck(False, f"Token {token.label}: VK could not be reached ({reason}); try again")
    return _record(token, ok=True, invalid=False, message=f"Token {token.label}: works ({token.kind} token, {method})")


def _record(token: VkToken, *, ok: bool, invalid: bool, message: str) -> TokenCheck:
    fields: dict = {}
    if invalid:
        fields = {"status": VkToken.Status.INVALID, "last_error": message}
    elif ok:
        fields = {"last_used_at": timezone.now(), "last_error": ""}
        if token.status == VkToken.Status.INVALID:
            fields["status"] = VkToken.Status.ACTIVE
    else:
        fields = {"last_error": message}
    VkToken.objects.filter(pk=token.pk).update(**fields)
    for name, value in fields.items():
        setattr(token, name, value)
    return TokenCheck(ok, message)
