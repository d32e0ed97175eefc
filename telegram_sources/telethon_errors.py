"""Telethon's errors -> the port's (gateway.py). Part of the Telethon adapter: only it imports this module."""

from telethon import errors

from .gateway import AccessDenied, InviteExpired, NotFound, PermanentError, SessionRevoked, TelegramError

# All carry `.seconds`; Telethon would sleep on them itself, our limiter must decide instead.
FLOOD_ERRORS = (errors.FloodWaitError, errors.FloodPremiumWaitError, errors.SlowModeWaitError)

# error -> why this account may not have it; the message names both.
_ACCESS_DENIED = {
    errors.ChannelPrivateError: "the channel is private (or this account was kicked)",
    errors.ChatAdminRequiredError: "admin rights are required",
    errors.UserBannedInChannelError: "this account is banned there",
    errors.ChannelBannedError: "this account is banned there",
    errors.ChatForbiddenError: "this account cannot see the group",
    errors.ChannelPublicGroupNaError: "this account cannot see the group",
    errors.InviteRequestSentError: "joining needs an admin's approval; a request was sent",
}
_NOT_FOUND = (
    errors.UsernameNotOccupiedError,
    errors.UsernameInvalidError,
    errors.PeerIdInvalidError,
    errors.ChannelInvalidError,
    errors.ChatIdInvalidError,
    errors.InviteHashInvalidError,
    errors.InviteHashEmptyError,
)
# The session is gone for good: the account must be logged in again (or is banned). AuthKeyDuplicated:
# the key was used from two places at once and Telegram dropped it, so it is dead too.
SESSION_DEAD = (
    errors.AuthKeyUnregisteredError,
    errors.AuthKeyInvalidError,
    errors.AuthKeyDuplicatedError,
    errors.UserDeactivatedError,
    errors.UserDeactivatedBanError,
    errors.SessionRevokedError,
    errors.SessionExpiredError,
)
# What Telethon's entity lookup raises (as ValueError) when nothing matches.
_NOT_FOUND_MESSAGES = ("Cannot find any entity", "Could not find the input entity", "No user has")


def is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, _NOT_FOUND) or (isinstance(exc, ValueError) and str(exc).startswith(_NOT_FOUND_MESSAGES))


def translate_error(exc: BaseException) -> BaseException:
    """A Telethon error -> the port's error; anything else (our FloodWait, OSError...) is returned as is."""
    name = type(exc).__name__
    if isinstance(exc, TelegramError):
        return exc
    for error_type, reason in _ACCESS_DENIED.items():
        if isinstance(exc, error_type):
            return AccessDenied(f"{name}: {reason}")
    if isinstance(exc, errors.InviteHashExpiredError):
        return InviteExpired(f"{name}: the invite link has expired or was revoked")
    if is_not_found(exc):
        return NotFound(name if isinstance(exc, errors.RPCError) else str(exc))
    if isinstance(exc, SESSION_DEAD):
        return SessionRevoked(f"{name}: the session is revoked or the account deactivated")
    if isinstance(exc, errors.ChannelsTooMuchError):
        return PermanentError(f"{name}: this account is in too many channels and groups to join more")
    if isinstance(exc, errors.RPCError):
        return PermanentError(f"{name}: {exc}")
    return exc
