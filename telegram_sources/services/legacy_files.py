"""Reading the legacy JSON files: validate everything, or say exactly what is wrong."""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.utils import timezone

from telegram_sources.models import TelegramUser
from telegram_sources.services.reference import (
    normalize_username,
)

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
POSITIVE_INT_MAX = 2**31 - 1  # PositiveIntegerField's upper bound on every backend
USERNAME_MAX = TelegramUser._meta.get_field("username").max_length
NAME_MAX = TelegramUser._meta.get_field("first_name").max_length


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


# Validates the keys another app owns (an import hook's `parse`): gets the member under
# validation (`.raw`, `.present(key)`, `.time(key)`, `.flag(key)`, `.fail(key, problem)`), returns
# what it parsed, or None when the member has nothing for it. Errors go through `.fail`.
MemberParser = Callable[["_Item"], Any]


@dataclass
class LegacyMember:
    index: int
    telegram_id: int | None
    fields: dict[str, Any]  # model field -> value, only for keys the file has
    extra: dict[str, Any] = field(default_factory=dict)  # import hook name -> what its parser returned

    @property
    def username_ci(self) -> str:
        return self.fields.get("username", "").lower()


def _parse_member(
    path, label: str, index: int, raw: Any, parsers: Mapping[str, MemberParser] | None = None
) -> LegacyMember:
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
    extra = {}
    for name, parse in (parsers or {}).items():
        value = parse(item)
        if value is not None:
            extra[name] = value
    return LegacyMember(index=index, telegram_id=telegram_id, fields=fields, extra=extra)


def read_members(path, *, parsers: Mapping[str, MemberParser] | None = None) -> list[LegacyMember]:
    """Parse and validate a whole members.json; LegacyFileError on the first problem.

    `parsers` (import hook name -> MemberParser) validate the keys other apps own in
    the same pass, so a bad one also stops the import before anything is written.
    """
    items, label = _root_list(_read_json(path), path, "members")
    return [_parse_member(path, label or "members", index, raw, parsers) for index, raw in enumerate(items)]


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
