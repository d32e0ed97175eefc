"""The legacy JSON files: `members.json` in and out, `s16_space_all_participants.json` in.

`members.json` (seed 000) is `{"members": [...]}` or a bare list; a member is

    {"id": 123, "username": "user_0001", "first_name": "...", "last_name": null,
     "offline_cnt": 3, "first_seen_at": "2023-05-01T18:00:00+00:00",
     "last_offline_at": "2024-02-10T19:30:00+00:00", "in_s16_space": false}

plus the seeders' `stale*` keys, which this module neither reads nor writes:
the seeders app validates and imports them through `register_import_hook` and
adds them to the export through `register_row_extender` (both from its ready()).

Imports validate the whole file before touching the database and raise
`LegacyFileError` with one message naming the file, the member and the field;
then they write in one transaction with bulk statements.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from leadops.bulk import bulk_update_values, chunked
from telegram_sources.models import TelegramGroup, TelegramUser
from telegram_sources.services.legacy_files import (
    LegacyFileError,
    LegacyMember,
    MemberParser,
    read_members,
    read_reference,
)
from telegram_sources.services.reference import (
    ReferenceSyncResult,
    reference_group,
    sync_reference,
)

BATCH = 1000  # rows per bulk_create statement

# The model fields an import writes, in the order bulk_update gets them.
IMPORTED_FIELDS = [
    "telegram_id",
    "username",
    "first_name",
    "last_name",
    "offline_cnt",
    "first_seen_at",
    "last_offline_at",
    "in_reference",
]
# Where the names the gender estimate reads sit in a _snapshot.
NAME_FIELDS = [IMPORTED_FIELDS.index(name) for name in ("username", "first_name", "last_name")]


# --- import hooks: keys other apps own -----------------------------------------------------


@dataclass(frozen=True)
class ImportHook:
    """Imports keys of members.json that another app owns (the seeders' stale marks).

    `parse(item)` runs in the validation pass, before anything is written: it reads
    `item.raw`, raises through `item.fail(key, problem)` (a one-line LegacyFileError
    naming file, member and field) and returns what it parsed, or None when the member
    has nothing for it. `apply(pairs)` runs inside the import's transaction after the
    users are written, with (member, saved TelegramUser) for every member whose parse
    returned something (`member.extra[name]`); it may return a line for the summary.
    """

    name: str
    parse: MemberParser
    apply: Callable[[list[tuple[LegacyMember, TelegramUser]]], str | None]


IMPORT_HOOKS: list[ImportHook] = []


def register_import_hook(name: str, *, parse: MemberParser, apply) -> ImportHook:
    """Have every import_members run this hook. Registering the same name again replaces it."""
    hook = ImportHook(name=name, parse=parse, apply=apply)
    IMPORT_HOOKS[:] = [h for h in IMPORT_HOOKS if h.name != name] + [hook]
    return hook


# --- import_members --------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    members: int  # members in the file
    created: int
    updated: int  # existing users whose imported fields changed
    unchanged: int  # existing users the file matched, already up to date
    ids_filled: int  # users known only by username that got their id from the file
    duplicates: int  # members folded into another member of the same file
    notes: tuple[str, ...] = ()  # what the import hooks reported

    def summary(self) -> str:
        return (
            f"{self.members} members: {self.created} created, {self.updated} updated "
            f"({self.ids_filled} ids filled in), {self.unchanged} unchanged, {self.duplicates} duplicates merged"
        ) + "".join(f"; {note}" for note in self.notes)


def _dedupe(members: list[LegacyMember]) -> tuple[dict[int, LegacyMember], dict[str, LegacyMember], int]:
    """Fold repeated members of one file together.

    The same id twice, or the same username twice among members without id: the
    later one's fields win. A member without id whose username belongs to exactly
    one member with id is that member: it only fills in fields the member with id lacks.
    """
    with_id: dict[int, LegacyMember] = {}
    without_id: dict[str, LegacyMember] = {}
    duplicates = 0
    for member in members:
        if member.telegram_id is not None:
            seen = with_id.get(member.telegram_id)
            if seen is None:
                with_id[member.telegram_id] = member
            else:
                seen.fields.update(member.fields)
                seen.extra.update(member.extra)
                duplicates += 1
        else:
            seen = without_id.get(member.username_ci)
            if seen is None:
                without_id[member.username_ci] = member
            else:
                seen.fields.update(member.fields)
                seen.extra.update(member.extra)
                duplicates += 1
    owners: dict[str, list[LegacyMember]] = defaultdict(list)
    for member in with_id.values():
        if member.username_ci:
            owners[member.username_ci].append(member)
    for name in list(without_id):
        if len(owners.get(name, ())) == 1:
            folded = without_id.pop(name)
            for key, value in folded.fields.items():
                owners[name][0].fields.setdefault(key, value)
            for key, value in folded.extra.items():
                owners[name][0].extra.setdefault(key, value)
            duplicates += 1
    return with_id, without_id, duplicates


def _snapshot(user: TelegramUser) -> tuple:
    return tuple(getattr(user, name) for name in IMPORTED_FIELDS)


def import_members(*, path) -> ImportResult:
    hooks = list(IMPORT_HOOKS)
    members = read_members(path, parsers={hook.name: hook.parse for hook in hooks})
    with_id, without_id, duplicates = _dedupe(members)
    users = TelegramUser.objects

    with transaction.atomic():
        by_id: dict[int, TelegramUser] = {}
        for chunk in chunked(sorted(with_id)):
            for user in users.filter(telegram_id__in=chunk):
                by_id[user.telegram_id] = user

        wanted = {m.username_ci for m in with_id.values() if m.telegram_id not in by_id and m.username_ci}
        wanted |= set(without_id)
        by_name: dict[str, list[TelegramUser]] = defaultdict(list)
        for chunk in chunked(sorted(wanted)):
            rows = users.annotate(username_ci=Lower("username")).filter(username_ci__in=chunk).order_by("pk")
            for user in rows:
                by_name[user.username_ci].append(user)

        matched: dict[int, TelegramUser] = {}  # pk -> the users the file matched
        before: dict[int, tuple] = {}  # pk -> their imported fields as loaded
        created: list[TelegramUser] = []
        new_by_name: dict[str, list[TelegramUser]] = defaultdict(list)
        ids_filled = 0
        saved: list[tuple[LegacyMember, TelegramUser]] = []  # for the import hooks

        def take(user: TelegramUser, member: LegacyMember):
            saved.append((member, user))
            if user.pk not in matched:
                matched[user.pk] = user
                before[user.pk] = _snapshot(user)
            for key, value in member.fields.items():
                setattr(user, key, value)

        def create(member: LegacyMember):
            user = TelegramUser(telegram_id=member.telegram_id, **member.fields)
            saved.append((member, user))
            created.append(user)
            if member.username_ci:
                new_by_name[member.username_ci].append(user)

        # Members with an id first: by id, else a user known only by that username gets the id.
        for member in with_id.values():
            user = by_id.get(member.telegram_id)
            if user is None and member.username_ci:
                user = next(
                    (u for u in by_name.get(member.username_ci, ()) if u.telegram_id is None and u.pk not in before),
                    None,
                )
                if user is not None:
                    take(user, member)
                    user.telegram_id = member.telegram_id
                    ids_filled += 1
                    continue
            if user is None:
                create(member)
            else:
                take(user, member)

        # Then members known only by username: the user holding it, unless this file already
        # claimed that user (or created one) for a member with an id, which is the better record.
        for name, member in without_id.items():
            candidates = by_name.get(name, [])
            if new_by_name.get(name) or any(u.pk in before for u in candidates):
                duplicates += 1
                continue
            if candidates:
                # Prefer the row an earlier legacy import made (no id), then the oldest.
                take(min(candidates, key=lambda u: (u.telegram_id is not None, u.pk)), member)
            else:
                create(member)

        changed = [user for pk, user in matched.items() if _snapshot(user) != before[pk]]
        for user in changed:
            now, then = _snapshot(user), before[user.pk]
            if any(now[i] != then[i] for i in NAME_FIELDS):
                user.gender = ""  # the estimate was of the old name: refresh_genders redoes it
        users.bulk_create(created, batch_size=BATCH)
        bulk_update_values(changed, [*IMPORTED_FIELDS, "gender"])

        notes = []
        for hook in hooks:
            pairs = [(member, user) for member, user in saved if hook.name in member.extra]
            note = hook.apply(pairs) if pairs else None
            if note:
                notes.append(note)

    return ImportResult(
        members=len(members),
        created=len(created),
        updated=len(changed),
        unchanged=len(matched) - len(changed),
        ids_filled=ids_filled,
        duplicates=duplicates,
        notes=tuple(notes),
    )


# --- import_reference ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceImportResult:
    participants: int
    sync: ReferenceSyncResult
    reference_group: TelegramGroup | None  # the group whose last_exported_at was stamped, if known

    def summary(self) -> str:
        stamped = f"; stamped {self.reference_group}" if self.reference_group else ""
        return f"{self.participants} participants read; {self.sync.summary()}{stamped}"


def import_reference(*, path, synced_at: datetime | None = None) -> ReferenceImportResult:
    entries = read_reference(path)
    if not entries:
        raise LegacyFileError(f"{path}: no participants; refusing to clear every in_reference flag")
    synced_at = synced_at or timezone.now()
    with transaction.atomic():
        result = sync_reference(entries=entries, synced_at=synced_at)
        group = reference_group() if settings.REFERENCE_GROUP else None
        if group is not None:
            group.last_exported_at = synced_at
            group.save(update_fields=["last_exported_at"])
    return ReferenceImportResult(participants=len(entries), sync=result, reference_group=group)
