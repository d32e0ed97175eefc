"""The admin index as a dashboard: one card per area (Telegram, VK, Outreach, Jobs, Limits).

Reads only. Each area's module builds its card's data from a `Snapshot` (who looks, when, and
what several cards share: the account pool, the limiter's counters), in a fixed handful of
queries that use the tables' indexes, so the page costs the same with ten rows or ten million.
A card is built only for a user allowed to see its app, and one card failing (a bug, Redis down)
shows one line in that card instead of taking the admin index down with it.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import redis
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext

from leadops import ratelimit

logger = logging.getLogger(__name__)

ACCOUNTS_MAX = 500  # a pool is tens of accounts; past this the cards say they show the first ones


@dataclass(frozen=True)
class Stat:
    """One number on a card: `data-stat="<key>"` carries it for tests and scripts."""

    key: str
    label: str
    value: Any
    url: str = ""
    tone: str = ""  # "", "ok", "warn" or "bad": the colour of the number

    @property
    def text(self) -> str:
        return f"{self.value:,}" if isinstance(self.value, int) else str(self.value)


@dataclass
class Card:
    name: str  # data-card="<name>"
    title: str
    url: str  # the title's link
    template: str
    data: Any = None
    error: str = ""


def admin_url(viewname: str, *args, **params) -> str:
    """An admin URL, with a changelist's filters as the query string."""
    url = reverse(f"admin:{viewname}", args=args or None)
    return f"{url}?{urlencode(params)}" if params else url


class Snapshot:
    """What the cards of one page view share; every value is read at most once."""

    def __init__(self, *, user, now: datetime | None = None):
        self.user = user
        self.now = now or timezone.now()
        self.limiter_error = ""
        self._blocks: dict[str, datetime | None] = {}

    def can(self, *perms: str) -> bool:
        """True when the user has any of `perms` ("app.codename")."""
        return any(self.user.has_perm(perm) for perm in perms)

    @cached_property
    def accounts(self) -> list[dict]:
        """The Telegram account pool, without the encrypted columns (never decrypted for a count)."""
        from accounts.models import TelegramAccount

        return list(
            TelegramAccount.objects.order_by("session_name").values(
                "pk", "session_name", "status", "next_allowed_action_time"
            )[: ACCOUNTS_MAX + 1]
        )

    @cached_property
    def usage(self) -> dict[str, dict[str, int]]:
        """The limiter's counters of the last 24 h; {} (and `limiter_error`) when Redis does not answer."""
        try:
            return ratelimit.usage(hours=24)
        except redis.RedisError as exc:
            self.limiter_error = gettext("the rate limiter's store did not answer (%(error)s)") % {
                "error": type(exc).__name__
            }
            return {}

    def blocked_until(self, key: str) -> datetime | None:
        if key not in self._blocks:
            try:
                self._blocks[key] = ratelimit.blocked_until(key)
            except redis.RedisError as exc:
                self.limiter_error = gettext("the rate limiter's store did not answer (%(error)s)") % {
                    "error": type(exc).__name__
                }
                self._blocks[key] = None
        return self._blocks[key]


@dataclass(frozen=True)
class CardSpec:
    name: str
    title: str  # lazily translated
    visible: Callable[[Snapshot], bool]
    build: Callable[[Snapshot], Card]
    url: Callable[[Snapshot], str]  # the title's link


def _specs() -> list[CardSpec]:
    # Imported here: the area modules import the apps' models, which are not ready at import time.
    from . import jobs, limits, outreach, telegram, vk

    return [telegram.SPEC, vk.SPEC, outreach.SPEC, jobs.SPEC, limits.SPEC]


def dashboard_cards(*, user, now: datetime | None = None) -> list[Card]:
    """The cards `user` may see, in the page's order, each with its data or a one-line error."""
    snap = Snapshot(user=user, now=now)
    cards = []
    for spec in _specs():
        if not spec.visible(snap):
            continue
        try:
            cards.append(spec.build(snap))
        except Exception as exc:  # one broken card must not take the admin index down
            logger.exception("dashboard card %s failed", spec.name)
            cards.append(
                Card(
                    name=spec.name,
                    title=spec.title,
                    url=spec.url(snap),
                    template="",
                    error=gettext("This card could not be loaded (%(error)s); the error is in the log.")
                    % {"error": type(exc).__name__},
                )
            )
    return cards
