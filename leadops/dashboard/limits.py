"""The Limits card (seed 001's anti-spam monitor): per Telegram account, VK token and Yandex key,
the last 24 hours' requests, waits for a token, blocks (FloodWaits, backoffs) and rate errors,
as the shared limiter counts them, and whether the key is blocked right now."""

from dataclasses import dataclass, field
from datetime import datetime

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leadops.admin_tools import future_time
from leadops.ratelimit import COUNTERS

from . import ACCOUNTS_MAX, Card, CardSpec, Snapshot, admin_url

TELEGRAM_PERM = "accounts.view_telegramaccount"
VK_PERM = "vk_sync.view_vktoken"
YANDEX_PERM = "outreach.view_serpquery"
# outreach.yandex SECOND_LIMIT / HOUR_LIMIT and outreach.iam LIMIT_KEY: fixed names, always listed.
YANDEX_KEYS = (
    ("yandex", _("Yandex Search (10 RPS)")),
    ("yandex-hour", _("Yandex Search (hourly quota)")),
    ("yandex-iam", _("Yandex IAM tokens")),
)


@dataclass
class LimitRow:
    area: str  # "Telegram", "VK", "Yandex", "other"
    label: str
    key: str
    url: str
    counts: dict[str, int]
    blocked_until: datetime | None = None
    blocked_html: str = "—"

    @property
    def requests(self) -> int:
        return self.counts["requests"]

    @property
    def waits(self) -> int:
        return self.counts["waits"]

    @property
    def blocks(self) -> int:
        return self.counts["blocks"]

    @property
    def rate_errors(self) -> int:
        return self.counts["rate_errors"]

    @property
    def troubled(self) -> bool:
        return bool(self.blocks or self.rate_errors or self.blocked_until)


@dataclass
class LimitsData:
    rows: list[LimitRow] = field(default_factory=list)
    error: str = ""
    active: bool = False  # any counter above zero
    truncated: bool = False


def _row(snap: Snapshot, area: str, label: str, key: str, url: str) -> LimitRow:
    counts = {what: 0 for what in COUNTERS} | snap.usage.get(key, {})
    until = snap.blocked_until(key)
    return LimitRow(area, label, key, url, counts, until, future_time(until, now=snap.now))


def build(snap: Snapshot) -> Card:
    from telegram_sources.limits import limiter_key

    data = LimitsData()
    rows = []
    if snap.can(TELEGRAM_PERM):
        for account in snap.accounts[:ACCOUNTS_MAX]:
            key = limiter_key(account["session_name"])
            url = admin_url("accounts_telegramaccount_change", account["pk"])
            rows.append(_row(snap, "Telegram", account["session_name"], key, url))
        data.truncated = len(snap.accounts) > ACCOUNTS_MAX
    if snap.can(VK_PERM):
        from vk_sync.models import VkToken

        for token in VkToken.objects.order_by("label").values("pk", "label"):
            key = f"vk:{token['label']}"  # vk_sync.client TokenHandle.key
            rows.append(_row(snap, "VK", token["label"], key, admin_url("vk_sync_vktoken_change", token["pk"])))
    if snap.can(YANDEX_PERM):
        for key, label in YANDEX_KEYS:
            rows.append(_row(snap, "Yandex", str(label), key, admin_url("outreach_serpquery_changelist")))
    known = {row.key for row in rows}
    if snap.user.is_superuser:  # keys of accounts or tokens deleted since, or of a new caller
        for key in sorted(set(snap.usage) - known):
            if data.truncated and key.startswith("tg:"):
                continue  # an account past the first ACCOUNTS_MAX, not a stray key
            rows.append(_row(snap, gettext("other"), key, key, ""))
    data.rows = rows
    data.active = any(any(row.counts.values()) for row in rows)
    data.error = snap.limiter_error
    return Card(
        name="limits",
        title=gettext("Limits (last 24 h)"),
        url="",
        template="admin/leadops/dashboard/limits.html",
        data=data,
    )


SPEC = CardSpec(
    name="limits",
    title=_("Limits (last 24 h)"),
    visible=lambda snap: snap.can(TELEGRAM_PERM, VK_PERM, YANDEX_PERM),
    build=build,
    url=lambda snap: "",
)
