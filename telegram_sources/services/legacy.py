"""The legacy JSON files: `members.json` in and out, `s16_space_all_participants.json` in.

`members.json` (seed 000) is `{"members": [...]}` or a bare list; a member is

    {"id": 123, "username": "user_0001", "first_name": "...", "last_name": null,
     "offline_cnt": 3, "first_seen_at": "2023-05-01T18:00:00+00:00",
     "last_offline_at": "2024-02-10T19:30:00+00:00", "in_s16_space": false}

plus the seeders' `stale*` keys, which this module neither reads nor writes
(the seeders app imports them and adds them to the export through
`register_row_extender`).

Imports validate the whole file before touching the database and raise
`LegacyFileError` with one message naming the file, the member and the field;
then they write in one transaction with bulk statements.
"""

import json
import os
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import CharField, QuerySet, TextField
from django.db.models.functions import Lower
from django.utils import timezone

from telegram_sources.models import TelegramGroup, TelegramUser
from telegram_sources.services.reference import (
    ReferenceSyncResult,
    chunked,
    normalize_username,
    sync_reference,
)

BATCH = 1000  # rows per bulk_create / bulk_update statement
EXPORT_CHUNK = 2000  # rows fetched per round trip while exporting

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
POSITIVE_INT_MAX = 2**31 - 1  # PositiveIntegerField's upper bound on every backend
USERNAME_MAX = TelegramUser._meta.get_field("username").max_length
NAME_MAX = TelegramUser._meta.get_field("first_name").max_length

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


class LegacyFileError(Exception):
    """A legacy file that cannot be read, parsed or validated (or written). Nothing was changed."""


# --- reading and validating ------------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _read_json(path) -> Any:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise LegacyFileError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LegacyFileError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LegacyFileError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc


def _root_list(data: Any, path, key: str) -> tuple[list, str]:
    """The item list of a `{key: [...]}` or bare-list file, and the label prefix for messages."""
    if isinstance(data, list):
        return data, ""
    if isinstance(data, dict) and key in data:
        if not isinstance(data[key], list):
            raise LegacyFileError(f'{path}: "{key}" must be a list, got {_describe(data[key])}')
        return data[key], key
    raise LegacyFileError(f'{path}: expected a list or an object {{"{key}": [...]}} at the root, got {_describe(data)}')


class _Item:
    """One member / participant object under validation; errors name the file, index and field."""

    def __init__(self, path, label: str, index: int, raw: Any):
        self.path = path
        self.where = f"{label}[{index}]"
        if not isinstance(raw, dict):
            raise LegacyFileError(f"{path}: {self.where}: must be an object, got {_describe(raw)}")
        self.raw = raw
        username, telegram_id = raw.get("username"), raw.get("id")
        if isinstance(username, str) and normalize_username(username):
            self.where += f" (@{normalize_username(username)[:USERNAME_MAX]})"
        elif isinstance(telegram_id, int) and not isinstance(telegram_id, bool):
            self.where += f" (id {telegram_id})"

    def fail(self, key: str, problem: str):
        raise LegacyFileError(f'{self.path}: {self.where}, field "{key}": {problem}')

    def present(self, key: str) -> bool:
        """The key is there and not null (null counts as missing)."""
        return self.raw.get(key) is not None

    def telegram_id(self) -> int | None:
        value = self.raw.get("id")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail("id", f"must be an integer, got {_describe(value)}")
        if not BIGINT_MIN <= value <= BIGINT_MAX:
            self.fail("id", f"out of range: {value}")
        return value

    def username(self) -> str:
        value = self.raw.get("username")
        if value is None:
            return ""
        if not isinstance(value, str):
            self.fail("username", f"must be a string or null, got {_describe(value)}")
        value = normalize_username(value)
        if len(value) > USERNAME_MAX:
            self.fail("username", f"longer than {USERNAME_MAX} characters")
        return value

    def name(self, key: str) -> str:
        value = self.raw.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.fail(key, f"must be a string or null, got {_describe(value)}")
        if len(value) > NAME_MAX:
            self.fail(key, f"longer than {NAME_MAX} characters")
        return value

    def count(self, key: str) -> int:
        value = self.raw[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= POSITIVE_INT_MAX:
            self.fail(key, f"must be a non-negative integer, got {_describe(value)}")
        return value

    def time(self, key: str) -> datetime | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(key, f"must be an ISO 8601 time string or null, got {_describe(value)}")
        try:
            return parse_time(value)
        except ValueError:
            self.fail(key, f"not an ISO 8601 time: {_describe(value)}")

    def flag(self, key: str) -> bool:
        value = self.raw[key]
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, got {_describe(value)}")
        return value

    def require_identity(self, telegram_id: int | None, username: str):
        if telegram_id is None and not username:
            raise LegacyFileError(f'{self.path}: {self.where}: has neither "id" nor "username"')


def parse_time(value: str) -> datetime:
    """ISO 8601 -> aware datetime; a time without an offset is taken as UTC. ValueError if unparseable."""
    value = value.strip()
    if not value:
        raise ValueError("empty")
    parsed = datetime.fromisoformat(value)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


@dataclass
class _Member:
    index: int
    telegram_id: int | None
    fields: dict[str, Any]  # model field -> value, only for keys the file has

    @property
    def username_ci(self) -> str:
        return self.fields.get("username", "").lower()


def _parse_member(path, label: str, index: int, raw: Any) -> _Member:
    item = _Item(path, label, index, raw)
    telegram_id = item.telegram_id()
    fields: dict[str, Any] = {}
    if "username" in raw:
        fields["username"] = item.username()
    for key in ("first_name", "last_name"):
        if key in raw:
            fields[key] = item.name(key)
    if item.present("offline_cnt"):
        fields["offline_cnt"] = item.count("offline_cnt")
    for key in ("first_seen_at", "last_offline_at"):
        if key in raw:
            fields[key] = item.time(key)
    if item.present("in_s16_space"):
        fields["in_reference"] = item.flag("in_s16_space")
    item.require_identity(telegram_id, fields.get("username", ""))
    return _Member(index=index, telegram_id=telegram_id, fields=fields)


def read_members(path) -> list[_Member]:
    """Parse and validate a whole members.json; LegacyFileError on the first problem."""
    items, label = _root_list(_read_json(path), path, "members")
    return [_parse_member(path, label or "members", index, raw) for index, raw in enumerate(items)]


def read_reference(path) -> list[tuple[int | None, str]]:
    """Parse and validate s16_space_all_participants.json into (telegram_id, username) pairs."""
    items, label = _root_list(_read_json(path), path, "participants")
    entries = []
    for index, raw in enumerate(items):
        item = _Item(path, label or "participants", index, raw)
        telegram_id, username = item.telegram_id(), item.username()
        item.require_identity(telegram_id, username)
        entries.append((telegram_id, username))
    return entries


# --- import_members --------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    members: int  # members in the file
    created: int
    updated: int  # existing users whose imported fields changed
    unchanged: int  # existing users the file matched, already up to date
    ids_filled: int  # users known only by username that got their id from the file
    duplicates: int  # members folded into another member of the same file

    def summary(self) -> str:
        return (
            f"{self.members} members: {self.created} created, {self.updated} updated "
            f"({self.ids_filled} ids filled in), {self.unchanged} unchanged, {self.duplicates} duplicates merged"
        )


def _dedupe(members: list[_Member]) -> tuple[dict[int, _Member], dict[str, _Member], int]:
    """Fold repeated members of one file together.

    The same id twice, or the same username twice among members without id: the
    later one's fields win. A member without id whose username belongs to exactly
    one member with id is that member: it only fills in fields the member with id lacks.
    """
    with_id: dict[int, _Member] = {}
    without_id: dict[str, _Member] = {}
    duplicates = 0
    for member in members:
        if member.telegram_id is not None:
            seen = with_id.get(member.telegram_id)
            if seen is None:
                with_id[member.telegram_id] = member
            else:
                seen.fields.update(member.fields)
                duplicates += 1
        else:
            seen = without_id.get(member.username_ci)
            if seen is None:
                without_id[member.username_ci] = member
            else:
                seen.fields.update(member.fields)
                duplicates += 1
    owners: dict[str, list[_Member]] = defaultdict(list)
    for member in with_id.values():
        if member.username_ci:
            owners[member.username_ci].append(member)
    for name in list(without_id):
        if len(owners.get(name, ())) == 1:
            for key, value in without_id.pop(name).fields.items():
                owners[name][0].fields.setdefault(key, value)
            duplicates += 1
    return with_id, without_id, duplicates


def bulk_update_values(objs: list, field_names: list[str]) -> int:
    """`bulk_update` as `WITH v(...) AS (VALUES ...) UPDATE ... FROM v`: one statement per batch.

    Django's bulk_update builds a CASE WHEN per field and row, which costs about
    a millisecond per row in Python (~2 minutes for 100k members). PostgreSQL
    and SQLite (3.33+) both take a CTE of VALUES joined in UPDATE ... FROM;
    other backends get Django's bulk_update.
    """
    if not objs:
        return 0
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    if connection.vendor not in ("postgresql", "sqlite"):
        return model._default_manager.bulk_update(objs, field_names, batch_size=BATCH)
    quote = connection.ops.quote_name
    pk = model._meta.pk
    fields = [model._meta.get_field(name) for name in field_names]
    columns = [pk, *fields]
    if connection.vendor == "postgresql":
        # NULLs in VALUES need a type. Strings go as text: an explicit cast to varchar(n)
        # would truncate silently, the assignment to the column raises instead.
        casts = ["text" if isinstance(f, CharField | TextField) else f.cast_db_type(connection) for f in columns]
        row = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    else:
        row = "(" + ", ".join("%s" for _ in columns) + ")"
    table = quote(model._meta.db_table)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields)
    head = f"WITH v (pk, {', '.join(quote(f.column) for f in fields)}) AS (VALUES "
    tail = f") UPDATE {table} SET {assignments} FROM v WHERE {table}.{quote(pk.column)} = v.pk"
    batch = max(1, min(BATCH, connection.ops.bulk_batch_size([pk, *fields], objs)))
    updated = 0
    with transaction.atomic(using=connection.alias, savepoint=False), connection.cursor() as cursor:
        for chunk in chunked(objs, batch):
            params = [
                f.get_db_prep_save(getattr(obj, f.attname), connection=connection) for obj in chunk for f in columns
            ]
            cursor.execute(head + ", ".join([row] * len(chunk)) + tail, params)
            updated += cursor.rowcount
    return updated


def _snapshot(user: TelegramUser) -> tuple:
    return tuple(getattr(user, name) for name in IMPORTED_FIELDS)


def import_members(*, path) -> ImportResult:
    members = read_members(path)
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

        def take(user: TelegramUser, member: _Member):
            if user.pk not in matched:
                matched[user.pk] = user
                before[user.pk] = _snapshot(user)
            for key, value in member.fields.items():
                setattr(user, key, value)

        def create(member: _Member):
            user = TelegramUser(telegram_id=member.telegram_id, **member.fields)
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
        users.bulk_create(created, batch_size=BATCH)
        bulk_update_values(changed, IMPORTED_FIELDS)

    return ImportResult(
        members=len(members),
        created=len(created),
        updated=len(changed),
        unchanged=len(matched) - len(changed),
        ids_filled=ids_filled,
        duplicates=duplicates,
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


def reference_group() -> TelegramGroup | None:
    """The TelegramGroup (kind=reference) that settings.REFERENCE_GROUP names, if it is in the database."""
    ref = str(settings.REFERENCE_GROUP or "").strip()
    if not ref:
        return None
    groups = TelegramGroup.objects.filter(kind=TelegramGroup.Kind.REFERENCE)
    try:
        return groups.filter(telegram_id=int(ref)).first()
    except ValueError:
        name = normalize_username(ref.removeprefix("https://").removeprefix("t.me/"))
        return groups.filter(username__iexact=name).first() if name else None


def import_reference(*, path, synced_at: datetime | None = None) -> ReferenceImportResult:
    entries = read_reference(path)
    if not entries:
        raise LegacyFileError(f"{path}: no participants; refusing to clear every in_reference flag")
    synced_at = synced_at or timezone.now()
    with transaction.atomic():
        result = sync_reference(entries=entries, synced_at=synced_at)
        group = reference_group()
        if group is not None:
            group.last_exported_at = synced_at
            group.save(update_fields=["last_exported_at"])
    return ReferenceImportResult(participants=len(entries), sync=result, reference_group=group)


# --- export_members --------------------------------------------------------------------------


@dataclass(frozen=True)
class RowExtender:
    """Adds keys to each exported member row (after the seed-000 keys).

    `extend(user, row)` changes `row` in place; `prepare(queryset)` may add the
    select_related / prefetch_related / annotate that `extend` reads, so the
    export stays a few queries per chunk rather than one per user.
    """

    extend: Callable[[TelegramUser, dict], None]
    prepare: Callable[[QuerySet], QuerySet] | None = field(default=None)


ROW_EXTENDERS: list[RowExtender] = []


def register_row_extender(
    extend: Callable[[TelegramUser, dict], None], *, prepare: Callable[[QuerySet], QuerySet] | None = None
) -> RowExtender:
    """Have every export call `extend(user, row)`. Registering the same function again replaces it."""
    extender = RowExtender(extend=extend, prepare=prepare)
    ROW_EXTENDERS[:] = [e for e in ROW_EXTENDERS if e.extend is not extend] + [extender]
    return extender


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def member_row(user: TelegramUser) -> dict:
    """One member in seed-000 shape and key order."""
    return {
        "id": user.telegram_id,
        "username": user.username or None,
        "first_name": user.first_name or None,
        "last_name": user.last_name or None,
        "offline_cnt": user.offline_cnt,
        "first_seen_at": _iso(user.first_seen_at),
        "last_offline_at": _iso(user.last_offline_at),
        "in_s16_space": user.in_reference,
    }


def export_queryset(extenders: Iterable[RowExtender] | None = None) -> QuerySet:
    queryset = TelegramUser.objects.order_by("pk")
    for extender in ROW_EXTENDERS if extenders is None else extenders:
        if extender.prepare is not None:
            queryset = extender.prepare(queryset)
    return queryset


@dataclass(frozen=True)
class ExportResult:
    members: int
    path: Path

    def summary(self) -> str:
        return f"{self.members} members written to {self.path}"


def export_members(
    *, path, queryset: QuerySet | None = None, extenders: Iterable[RowExtender] | None = None
) -> ExportResult:
    """Write `{"members": [...]}` (UTF-8, indent 2) through a temp file renamed over `path`.

    Users are streamed in chunks; the output is what `json.dump(..., ensure_ascii=False,
    indent=2)` of the whole list would write, plus a final newline.
    """
    extenders = list(ROW_EXTENDERS if extenders is None else extenders)
    if queryset is None:
        queryset = export_queryset(extenders)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    count = 0
    try:
        with open(tmp, "x", encoding="utf-8") as out:  # "x": honours the umask, never clobbers
            out.write('{\n  "members": [')
            for user in queryset.iterator(chunk_size=EXPORT_CHUNK):
                row = member_row(user)
                for extender in extenders:
                    extender.extend(user, row)
                text = json.dumps(row, ensure_ascii=False, indent=2).replace("\n", "\n    ")
                out.write(("\n    " if count == 0 else ",\n    ") + text)
                count += 1
            out.write("\n  ]\n}\n" if count else "]\n}\n")
            out.flush()
            os.fsync(out.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LegacyFileError(f"{path}: cannot write the file: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportResult(members=count, path=target)
