"""Bringing accounts in: seed 003's `accounts_config.json`.

The whole file is validated first, then written in one transaction. Account files
hold secrets, so errors name the file, the entry's index, its session name (not a
secret) and the field, never a value; the model fields encrypt the secrets on the
way in.
"""

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from leadops.fields import DecryptionError

from ..models import TelegramAccount
from .credential_checks import SECRET_FIELDS, api_id_problem, describe_kind, proxy_problem

log = logging.getLogger(__name__)

SESSION_NAME_MAX = TelegramAccount._meta.get_field("session_name").max_length


# --- accounts_config.json ---------------------------------------------------------------------


class AccountsFileError(Exception):
    """The accounts file cannot be read or is invalid. Nothing was written. The message holds no secret."""


@dataclass
class AccountsImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{len(self.created)} created, {len(self.updated)} updated"
        return f"{text}, {len(self.unchanged)} unchanged" if self.unchanged else text


@dataclass(frozen=True)
class _AccountEntry:
    session_name: str
    secrets: dict[str, str]  # model field -> value; only the fields the entry gives


def _read_accounts_file(path) -> Any:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise AccountsFileError(f"{path}: cannot read the file: {exc.strerror or type(exc).__name__}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AccountsFileError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # Position only: `exc.doc` is the file itself.
        raise AccountsFileError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None


def _required_text(raw: dict, key: str, problems: list[str]) -> str:
    value = raw.get(key)
    if key not in raw or value is None:
        problems.append(f"{key} is missing")
    elif not isinstance(value, str):
        problems.append(f"{key} must be text, got {describe_kind(value)}")
    elif not value.strip():
        problems.append(f"{key} is empty")
    else:
        return value.strip()
    return ""


def _optional_text(raw: dict, key: str, problems: list[str]) -> str | None:
    """None when the entry does not have the key (keep what is stored); "" clears."""
    if key not in raw:
        return None
    value = raw[key]
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(f"{key} must be text or null, got {describe_kind(value)}")
        return None
    return value.strip()


def _validate_entry(path, index: int, raw: Any, names_seen: dict[str, int]) -> _AccountEntry:
    where = f"{path}: entry [{index}]"
    if not isinstance(raw, dict):
        raise AccountsFileError(f"{where}: must be an object, got {describe_kind(raw)}")
    name = raw.get("session_name")
    if not isinstance(name, str) or not name.strip():
        got = (
            "is missing"
            if name is None
            else ("is empty" if isinstance(name, str) else f"must be text, got {describe_kind(name)}")
        )
        raise AccountsFileError(f"{where}: session_name {got}")
    name = name.strip()
    if len(name) > SESSION_NAME_MAX:
        raise AccountsFileError(f"{where}: session_name is longer than {SESSION_NAME_MAX} characters")
    where += f" ({name})"
    if name in names_seen:
        raise AccountsFileError(f"{where}: session_name repeats entry [{names_seen[name]}]")
    names_seen[name] = index

    problems: list[str] = []
    secrets: dict[str, str] = {}
    if "api_id" not in raw or raw["api_id"] is None:
        problems.append("api_id is missing")
    elif problem := api_id_problem(raw["api_id"]):
        problems.append(f"api_id {problem}")
    else:
        secrets["api_id"] = str(raw["api_id"]).strip()
    for key in ("api_hash", "string_session"):
        if value := _required_text(raw, key, problems):
            secrets[key] = value
    proxy = _optional_text(raw, "proxy", problems)
    if proxy and (problem := proxy_problem(proxy)):
        problems.append(f"proxy {problem}")
    elif proxy is not None:
        secrets["proxy_url"] = proxy
    phone = _optional_text(raw, "phone", problems)
    if phone is not None:
        secrets["phone"] = phone
    if problems:
        raise AccountsFileError(f"{where}: {'; '.join(problems)}")
    return _AccountEntry(session_name=name, secrets=secrets)


def read_accounts_file(path) -> list[_AccountEntry]:
    """Parse and validate the whole file; the first invalid entry raises AccountsFileError."""
    data = _read_accounts_file(path)
    if not isinstance(data, list):
        raise AccountsFileError(f"{path}: expected a list of account objects at the root, got {describe_kind(data)}")
    names_seen: dict[str, int] = {}
    return [_validate_entry(path, index, raw, names_seen) for index, raw in enumerate(data)]


def _stored_secrets(pk: int) -> dict[str, str] | None:
    """The stored secrets of one account, or None when they cannot be decrypted (then they are replaced)."""
    try:
        account = TelegramAccount.objects.get(pk=pk)
    except DecryptionError:
        return None
    return {name: getattr(account, name) for name in SECRET_FIELDS}


def import_accounts(*, path) -> AccountsImportResult:
    """Upsert the file's accounts by session_name, all or nothing.

    A new account is created active. An existing one gets the secrets its entry
    gives (phone and proxy only when the entry has the key; null or "" clears
    them); its status, counters and cooldown are left alone.
    """
    entries = read_accounts_file(path)
    result = AccountsImportResult()
    with transaction.atomic():
        existing = dict(
            TelegramAccount.objects.select_for_update()
            .filter(session_name__in=[entry.session_name for entry in entries])
            .values_list("session_name", "pk")
        )
        for entry in entries:
            pk = existing.get(entry.session_name)
            if pk is None:
                TelegramAccount.objects.create(session_name=entry.session_name, **entry.secrets)
                result.created.append(entry.session_name)
                continue
            stored = _stored_secrets(pk)
            if stored is not None and all(stored[name] == value for name, value in entry.secrets.items()):
                result.unchanged.append(entry.session_name)
                continue
            TelegramAccount.objects.filter(pk=pk).update(**entry.secrets)  # the fields encrypt in update() too
            result.updated.append(entry.session_name)
    log.info("import_accounts: %s: %s", path, result.summary())
    return result
