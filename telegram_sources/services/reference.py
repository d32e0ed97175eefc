"""Who is in the reference group: the `in_reference` flag on TelegramUser.

`sync_reference` takes the reference group's current members as
(telegram_id, username) pairs and makes the flags agree with them, set-based:
a handful of chunked SELECTs and UPDATEs, never a save per user. Whoever
produced the pairs (the live `refresh_reference`, or `legacy.import_reference`
from a JSON snapshot) calls it.

Matching rules:

* by telegram id first;
* an entry whose id matched nobody (or that has no id) is then matched by
  username, case-insensitively and with a leading '@' stripped. An entry that
  carries an id only matches users whose own id is unknown: a user with a
  different known id who happens to hold the username is a different person
  (usernames move between accounts), so id wins when both sides know it;
* users that had the flag and matched no entry are cleared.

Everyone the sync touches (set or cleared) gets `reference_synced_at`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models.functions import Lower

from leadops.bulk import chunked
from telegram_sources.models import TelegramGroup, TelegramUser
from telegram_sources.selectors import find_reference_group, reference_group_lookup


@dataclass(frozen=True)
class ReferenceSyncResult:
    entries: int  # distinct entries considered (by id, or by username for entries without id)
    matched_by_id: int
    matched_by_username: int
    unmatched: int  # entries that matched no user
    cleared: int  # users whose flag went from True to False
    flagged: int  # users with in_reference=True after the sync

    def summary(self) -> str:
        return (
            f"{self.entries} reference entries: {self.matched_by_id} matched by id, "
            f"{self.matched_by_username} by username, {self.unmatched} unmatched; "
            f"{self.flagged} users flagged, {self.cleared} cleared"
        )


def normalize_username(value: str | None) -> str:
    """'@Some_User ' -> 'Some_User'; None -> ''."""
    if not value:
        return ""
    return value.strip().lstrip("@").strip()


def sync_reference(*, entries: Iterable[tuple[int | None, str | None]], synced_at: datetime) -> ReferenceSyncResult:
    ids: dict[int, str] = {}  # telegram id -> lower username ('' if none)
    names_only: set[str] = set()  # lower usernames of entries without an id
    for telegram_id, username in entries:
        lower = normalize_username(username).lower()
        if telegram_id is not None:
            ids[int(telegram_id)] = lower
        elif lower:
            names_only.add(lower)
    users = TelegramUser.objects

    with transaction.atomic():
        matched_pks: set[int] = set()

        # 1. by telegram id
        id_list = sorted(ids)
        found_ids: set[int] = set()
        for chunk in chunked(id_list):
            for pk, telegram_id in users.filter(telegram_id__in=chunk).values_list("pk", "telegram_id"):
                matched_pks.add(pk)
                found_ids.add(telegram_id)

        # 2. by username: entries whose id matched nobody (only users without a known id) ...
        names_for_idless = sorted({ids[i] for i in id_list if i not in found_ids and ids[i]})
        found_names_idless: set[str] = set()
        for chunk in chunked(names_for_idless):
            rows = (
                users.alias(username_ci=Lower("username"))
                .filter(username_ci__in=chunk, telegram_id__isnull=True)
                .values_list("pk", Lower("username"))
            )
            for pk, lower in rows:
                matched_pks.add(pk)
                found_names_idless.add(lower)
        # ... and entries that had no id at all (any user holding the username)
        names_any = sorted(names_only)
        found_names_any: set[str] = set()
        for chunk in chunked(names_any):
            rows = users.alias(username_ci=Lower("username")).filter(username_ci__in=chunk)
            for pk, lower in rows.values_list("pk", Lower("username")):
                matched_pks.add(pk)
                found_names_any.add(lower)

        # 3. write: flag the matched, clear those who had the flag and matched nothing
        previously = set(users.filter(in_reference=True).values_list("pk", flat=True))
        for chunk in chunked(sorted(matched_pks)):
            users.filter(pk__in=chunk).update(in_reference=True, reference_synced_at=synced_at)
        to_clear = sorted(previously - matched_pks)
        for chunk in chunked(to_clear):
            users.filter(pk__in=chunk).update(in_reference=False, reference_synced_at=synced_at)

    matched_by_id = len(found_ids)
    idless_matched = sum(1 for i in id_list if i not in found_ids and ids[i] in found_names_idless)
    matched_by_username = idless_matched + len(found_names_any)
    total = len(ids) + len(names_only)
    return ReferenceSyncResult(
        entries=total,
        matched_by_id=matched_by_id,
        matched_by_username=matched_by_username,
        unmatched=total - matched_by_id - matched_by_username,
        cleared=len(to_clear),
        flagged=len(matched_pks),
    )


def reference_group() -> TelegramGroup:
    """The group REFERENCE_GROUP names, created (kind=reference) on first use."""
    lookup = reference_group_lookup()
    if not lookup:
        raise ImproperlyConfigured("REFERENCE_GROUP is not set: the reference group's id, e.g. -1002188344480")
    group = find_reference_group()
    if group is None:
        fields = {"username" if key.startswith("username") else key: value for key, value in lookup.items()}
        return TelegramGroup.objects.create(kind=TelegramGroup.Kind.REFERENCE, **fields)
    if group.kind != TelegramGroup.Kind.REFERENCE:
        group.kind = TelegramGroup.Kind.REFERENCE
        group.save(update_fields=["kind"])
    return group
