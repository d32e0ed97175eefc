"""`members.json` out, in seed 000's shape, with hooks for fields other apps own (stale marks)."""

import json
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.db.models import QuerySet

from telegram_sources.models import TelegramUser
from telegram_sources.services.legacy_files import LegacyFileError

EXPORT_CHUNK = 2000  # rows fetched per round trip while exporting

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
