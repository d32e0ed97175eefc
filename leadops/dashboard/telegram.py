"""The Telegram card: the account pool (who is cooling down, and until when), the reference
snapshot's age, and how many candidates are left for the seeders' next batch."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leadops.admin_tools import future_time

from . import ACCOUNTS_MAX, Card, CardSpec, Snapshot, Stat, admin_url

CANDIDATES_CAP = 1000  # counted up to here (an index scan with a LIMIT), then shown as "1,000+"
ACCOUNTS_PERM = "accounts.view_telegramaccount"
SEEDERS_PERM = "seeders.view_seederbatch"


@dataclass
class CoolingAccount:
    session_name: str
    comes_back: datetime
    comes_back_html: str  # "in 2 h 13 min", with the moment as its tooltip
    why: str  # the account's status, or "limiter block" (a FloodWait another worker ran into)
    url: str


@dataclass
class TelegramData:
    account_stats: list[Stat] = field(default_factory=list)
    cooling: list[CoolingAccount] = field(default_factory=list)
    accounts_truncated: bool = False
    show_accounts: bool = False
    has_accounts: bool = False
    seeder_stats: list[Stat] = field(default_factory=list)
    reference: dict | None = None  # seeders.review_admin.reference_status(), plus "age_text"
    show_seeders: bool = False


def age_text(age: timedelta | None) -> str:
    if age is None:
        return gettext("never")
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return gettext("%(n)s min") % {"n": max(0, minutes)}
    if minutes < 48 * 60:
        return gettext("%(n)s h") % {"n": minutes // 60}
    return gettext("%(n)s d") % {"n": minutes // (24 * 60)}


def pool_state(snap: Snapshot) -> tuple[dict[str, int], list[CoolingAccount]]:
    """Counts by state (active, cooling, banned, disabled) and the cooling accounts, soonest back first.

    An account cools down while its row says so (`next_allowed_action_time` ahead) or while the
    shared limiter blocks it (a FloodWait seen by any worker, before the row caught up); a
    flood-wait / cooldown row whose time has passed is back by itself, as the pool treats it.
    """
    from accounts.models import TelegramAccount
    from telegram_sources.limits import limiter_key

    usable = {TelegramAccount.Status.ACTIVE, TelegramAccount.Status.FLOOD_WAIT, TelegramAccount.Status.COOLDOWN}
    counts = {"active": 0, "cooling": 0, "banned": 0, "disabled": 0}
    cooling = []
    for account in snap.accounts[:ACCOUNTS_MAX]:
        if account["status"] not in usable:
            counts[account["status"]] = counts.get(account["status"], 0) + 1
            continue
        row_until = account["next_allowed_action_time"]
        row_until = row_until if row_until and row_until > snap.now else None
        block_until = snap.blocked_until(limiter_key(account["session_name"]))
        until = max(filter(None, [row_until, block_until]), default=None)
        if until is None:
            counts["active"] += 1
            continue
        counts["cooling"] += 1
        if until == block_until and until != row_until:
            why = gettext("FloodWait (limiter block)")  # seen by a worker before the row was written
        elif account["status"] == TelegramAccount.Status.ACTIVE:
            why = gettext("cooldown")
        else:
            why = str(TelegramAccount.Status(account["status"]).label)
        cooling.append(
            CoolingAccount(
                session_name=account["session_name"],
                comes_back=until,
                comes_back_html=future_time(until, now=snap.now),
                why=why,
                url=admin_url("accounts_telegramaccount_change", account["pk"]),
            )
        )
    cooling.sort(key=lambda row: (row.comes_back, row.session_name))
    return counts, cooling


def account_stats(counts: dict[str, int]) -> list[Stat]:
    changelist = "accounts_telegramaccount_changelist"
    return [
        Stat(
            "accounts_active", gettext("active"), counts["active"], admin_url(changelist, status__exact="active"), "ok"
        ),
        Stat(
            "accounts_cooling",
            gettext("cooling down"),
            counts["cooling"],
            admin_url(changelist),
            _tone(counts["cooling"], "warn"),
        ),
        Stat(
            "accounts_banned",
            gettext("banned"),
            counts["banned"],
            admin_url(changelist, status__exact="banned"),
            _tone(counts["banned"], "bad"),
        ),
        Stat(
            "accounts_disabled",
            gettext("disabled"),
            counts["disabled"],
            admin_url(changelist, status__exact="disabled"),
        ),
    ]


def _tone(count: int, tone: str) -> str:
    return tone if count else ""


def candidates_left(snap: Snapshot) -> int:
    """Candidates for the next batch, counted off the candidates index up to CANDIDATES_CAP + 1."""
    from seeders.selectors import candidates

    return candidates(at=snap.now).values("pk")[: CANDIDATES_CAP + 1].count()


def build(snap: Snapshot) -> Card:
    data = TelegramData()
    if snap.can(ACCOUNTS_PERM):
        counts, data.cooling = pool_state(snap)
        data.account_stats = account_stats(counts)
        data.accounts_truncated = len(snap.accounts) > ACCOUNTS_MAX
        data.show_accounts = True
        data.has_accounts = bool(snap.accounts)
    if snap.can(SEEDERS_PERM):
        from seeders.review_admin import reference_status

        reference = reference_status(now=snap.now)
        data.reference = {**reference, "age_text": age_text(reference["age"])}
        left = candidates_left(snap)
        review = admin_url("seeders_seederbatch_review")
        data.seeder_stats = [
            Stat(
                "reference_age",
                gettext("reference snapshot age"),
                age_text(reference["age"]),
                review,
                "ok" if reference["fresh"] else "bad",
            ),
            Stat(
                "candidates_left",
                gettext("candidates left (next batch takes %(n)s)") % {"n": settings.SEEDERS_BATCH_SIZE},
                f"{CANDIDATES_CAP:,}+" if left > CANDIDATES_CAP else left,
                review,
                "warn" if left < settings.SEEDERS_BATCH_SIZE else "",
            ),
        ]
        data.show_seeders = True
    return Card(
        name="telegram",
        title=gettext("Telegram"),
        url=_url(snap),
        template="admin/leadops/dashboard/telegram.html",
        data=data,
    )


def _url(snap: Snapshot) -> str:
    if snap.can(ACCOUNTS_PERM):
        return admin_url("accounts_telegramaccount_changelist")
    return admin_url("seeders_seederbatch_review")


SPEC = CardSpec(
    name="telegram",
    title=_("Telegram"),
    visible=lambda snap: snap.can(ACCOUNTS_PERM, SEEDERS_PERM),
    build=build,
    url=_url,
)
