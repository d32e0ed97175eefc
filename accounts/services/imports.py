"""Bringing accounts and join targets in: seed 003's `accounts_config.json`, pasted or CSV target links.

Both imports validate everything first and write in one transaction: one bad
entry or line and nothing is written. Account files hold secrets, so their
errors name the file, the entry's index, its session name (not a secret) and
the field, never a value; the secrets are encrypted by the model fields on the
way in. `check_account_credentials` is the admin's "check session": what can be
checked without talking to Telegram.
"""

import csv
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from leadops.fields import DecryptionError

from ..links import BadLink, TargetRef, parse_link
from ..models import JoinTarget, TelegramAccount

log = logging.getLogger(__name__)

SESSION_NAME_MAX = TelegramAccount._meta.get_field("session_name").max_length
NICHE_MAX = JoinTarget._meta.get_field("niche").max_length
LINK_MAX = JoinTarget._meta.get_field("link").max_length
TITLE_MAX = JoinTarget._meta.get_field("title").max_length
PROXY_SCHEMES = ("socks5", "socks5h", "socks4", "http", "https")  # what the Telethon adapter understands
SECRET_FIELDS = ("phone", "api_id", "api_hash", "string_session", "proxy_url")


# --- credential checks, shared by the import, the admin form and "check session" ----------------


def _kind(value: Any) -> str:
    """What a value is, never what it says: these values are secrets."""
    if value is None:
        return "null"
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def api_id_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return f"must be a whole number, got {_kind(value)}"
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or int(text) <= 0:
        return "must be a whole positive number"
    return None


def proxy_problem(value: str) -> str | None:
    """None when `value` is a usable proxy URL; otherwise why not (the URL itself is never quoted)."""
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    if scheme not in PROXY_SCHEMES:  # not even the scheme is quoted: "user:pass@host" parses as scheme "user"
        return "must be a socks5://, socks4:// or http:// URL"
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or not port:
        return "must name a host and a port, like socks5://user:pass@host:1080"
    return None


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
        problems.append(f"{key} must be text, got {_kind(value)}")
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
        problems.append(f"{key} must be text or null, got {_kind(value)}")
        return None
    return value.strip()


def _validate_entry(path, index: int, raw: Any, names_seen: dict[str, int]) -> _AccountEntry:
    where = f"{path}: entry [{index}]"
    if not isinstance(raw, dict):
        raise AccountsFileError(f"{where}: must be an object, got {_kind(raw)}")
    name = raw.get("session_name")
    if not isinstance(name, str) or not name.strip():
        got = (
            "is missing"
            if name is None
            else ("is empty" if isinstance(name, str) else f"must be text, got {_kind(name)}")
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
        raise AccountsFileError(f"{path}: expected a list of account objects at the root, got {_kind(data)}")
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


# --- "check session" --------------------------------------------------------------------------


@dataclass(frozen=True)
class CredentialCheck:
    ok: bool
    message: str


def check_account_credentials(account: TelegramAccount) -> CredentialCheck:
    """What can be checked without a request to Telegram: the stored credentials decrypt and parse.

    With the Telethon adapter, the gateway is built from them (api_id a number,
    the string session and the proxy URL parse) and closed without connecting.
    Whether Telegram still accepts the session is not checked: the port has no
    cheap "who am I" call.
    """
    name = f"account {account.session_name}"
    try:
        fresh = TelegramAccount.objects.get(pk=account.pk)
        values = {field_name: getattr(fresh, field_name) for field_name in SECRET_FIELDS}
    except DecryptionError:
        return CredentialCheck(
            False, f"{name}: the stored credentials cannot be decrypted with LEADOPS_ENCRYPTION_KEYS"
        )
    problems = [f"{key} is not set" for key in ("api_id", "api_hash", "string_session") if not values[key]]
    if values["api_id"] and (problem := api_id_problem(values["api_id"])):
        problems.append(f"api_id {problem}")
    if values["proxy_url"] and (problem := proxy_problem(values["proxy_url"])):
        problems.append(f"proxy {problem}")
    if problems:
        return CredentialCheck(False, f"{name}: {'; '.join(problems)}")
    gateway_class = import_string(settings.TELEGRAM_GATEWAY)
    from_credentials = getattr(gateway_class, "from_credentials", None)
    if from_credentials is None:
        return CredentialCheck(
            True,
            f"{name}: credentials decrypt and are well-formed; {gateway_class.__name__} (fake gateway) needs "
            "nothing more: ok. Not checked against Telegram.",
        )
    from telegram_sources.gateway import TelegramError

    try:
        gateway = from_credentials(
            account.session_name,
            values["api_id"],
            values["api_hash"],
            values["string_session"],
            values["proxy_url"] or None,
        )
    except TelegramError as exc:  # the adapter's messages name the field, never the value
        return CredentialCheck(False, str(exc))
    gateway.close()
    return CredentialCheck(
        True,
        f"{name}: credentials decrypt, api_id is a number, the string session and the proxy URL parse "
        f"({gateway_class.__name__} built, no connection made). Not checked: whether Telegram still accepts "
        "the session.",
    )


# --- join targets: pasted links or a CSV --------------------------------------------------------


class TargetImportError(Exception):
    """Some lines are invalid (each message names its line). Nothing was written."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class TargetLine:
    line: int
    link: str
    niche: str
    ref: TargetRef
    title: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return self.niche, self.ref.username, self.ref.invite_hash


@dataclass
class TargetImportResult:
    added: list[JoinTarget] = field(default_factory=list)
    already: int = 0  # in the database already, or repeated in the input

    def summary(self) -> str:
        return f"{len(self.added)} added, {self.already} already there"


def _target_line(line: int, link: str, niche: str, title: str, errors: list[str]) -> TargetLine | None:
    link, niche, title = link.strip(), niche.strip(), title.strip()
    problems = []
    if not niche:
        problems.append("no niche (fill in the niche field, or a niche column)")
    elif len(niche) > NICHE_MAX:
        problems.append(f"niche is longer than {NICHE_MAX} characters")
    if len(link) > LINK_MAX:
        problems.append(f"link is longer than {LINK_MAX} characters")
    if len(title) > TITLE_MAX:
        problems.append(f"title is longer than {TITLE_MAX} characters")
    try:
        ref = parse_link(link)
    except BadLink as exc:
        problems.append(str(exc))
        ref = None
    if problems:
        errors.append(f"line {line}: {'; '.join(problems)}")
        return None
    return TargetLine(line=line, link=link, niche=niche, ref=ref, title=title)


def parse_target_text(text: str, *, niche: str) -> list[TargetLine]:
    """One link per line; blank lines and lines starting with # are skipped."""
    lines, errors = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if parsed := _target_line(number, raw, niche, "", errors):
            lines.append(parsed)
    if errors:
        raise TargetImportError(errors)
    return lines


def parse_target_csv(data: bytes | str, *, niche: str = "") -> list[TargetLine]:
    """A CSV with a header: `link` (required), `niche` and `title` (optional); `niche` defaults to the argument."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TargetImportError([f"the file is not UTF-8 text (bad byte at offset {exc.start})"]) from None
    sample = data[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(data, newline=""), dialect=dialect)
    columns = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    if "link" not in columns:
        raise TargetImportError(
            ["line 1: the header has no 'link' column (expected link, and optionally niche, title)"]
        )
    lines, errors = [], []
    try:
        for row in reader:
            cells = {column: row.get(name) or "" for column, name in columns.items()}
            link = cells["link"]
            if not link.strip():
                if any(isinstance(value, str) and value.strip() for value in row.values()):
                    errors.append(f"line {reader.line_num}: the link is empty")
                continue
            niche_cell = cells.get("niche", "").strip()
            if parsed := _target_line(reader.line_num, link, niche_cell or niche, cells.get("title", ""), errors):
                lines.append(parsed)
    except csv.Error as exc:
        errors.append(f"line {reader.line_num}: not valid CSV: {exc}")
    if errors:
        raise TargetImportError(errors)
    return lines


def import_targets(*, lines: list[TargetLine]) -> TargetImportResult:
    """Add the targets not there yet (same niche and username, or niche and invite), in one transaction."""
    result = TargetImportResult()
    with transaction.atomic():
        niches = {line.niche for line in lines}
        present = {
            (niche, username, invite)
            for niche, username, invite in JoinTarget.objects.filter(niche__in=niches).values_list(
                "niche", "username", "invite_hash"
            )
        }
        known_usernames = {(niche, username) for niche, username, _ in present if username}
        known_invites = {(niche, invite) for niche, _, invite in present if invite}
        new = []
        for line in lines:
            niche, username, invite = line.key
            if (niche, username) in known_usernames or (niche, invite) in known_invites:
                result.already += 1
                continue
            if username:
                known_usernames.add((niche, username))
            else:
                known_invites.add((niche, invite))
            new.append(JoinTarget(link=line.link, username=username, invite_hash=invite, niche=niche, title=line.title))
        try:
            with transaction.atomic():
                result.added = JoinTarget.objects.bulk_create(new)
        except IntegrityError:
            raise TargetImportError(
                ["some of these links were added by someone else meanwhile: nothing was written, try again"]
            ) from None
    log.info("import_targets: %s", result.summary())
    return result
