"""Per-account rate limit and FloodWait policy for every MTProto request.

Each request takes a token from the account's bucket in the shared limiter
(TELEGRAM_RPS per account, across all workers). A FloodWait blocks the account
in the limiter for everyone; a short one (up to TELEGRAM_FLOOD_SLEEP_THRESHOLD,
Telethon's own default of 60 s) is waited out and the request repeated, a longer
one reaches the caller as `FloodWait`, which stops the job or hands it to
another account.
"""

from collections.abc import Callable
from math import ceil
from typing import TypeVar

from django.conf import settings

from leadops import ratelimit

from .gateway import FloodWait

T = TypeVar("T")
BURST = 1  # no bursts: an account's requests are spaced evenly


def limiter_key(account: str) -> str:
    return f"tg:{account}"


def wait_for_turn(account: str) -> None:
    """Take a request token, waiting out a short block; a long block raises FloodWait."""
    key = limiter_key(account)
    while True:
        try:
            ratelimit.acquire(
                key, rate=settings.TELEGRAM_RPS, burst=BURST, timeout=settings.TELEGRAM_FLOOD_SLEEP_THRESHOLD
            )
            return
        except ratelimit.Blocked as exc:
            raise FloodWait(max(1, ceil(exc.remaining)), account) from None
        except ratelimit.RateLimitTimeout:
            continue  # only busy, not blocked: other workers got the tokens first


def record_flood_wait(account: str, seconds: int) -> bool:
    """Block the account for everyone; True when the wait is short enough to sit out."""
    ratelimit.block(limiter_key(account), seconds)
    return seconds <= settings.TELEGRAM_FLOOD_SLEEP_THRESHOLD


def limited_call(account: str, send: Callable[[], T]) -> T:
    """Run one request under the account's limit and the FloodWait policy."""
    while True:
        wait_for_turn(account)
        try:
            return send()
        except FloodWait as exc:
            if not record_flood_wait(account, exc.seconds):
                raise FloodWait(exc.seconds, account) from None
