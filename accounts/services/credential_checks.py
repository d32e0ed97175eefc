"""What can be checked about an account's credentials without talking to Telegram.

Shared by the accounts import, the admin form and the admin's "check session".
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.module_loading import import_string

from leadops.fields import DecryptionError

from ..models import TelegramAccount

PROXY_SCHEMES = ("socks5", "socks5h", "socks4", "http", "https")  # what the Telethon adapter understands
SECRET_FIELDS = ("phone", "api_id", "api_hash", "string_session", "proxy_url")


# --- credential checks, shared by the import, the admin form and "check session" ----------------


def describe_kind(value: Any) -> str:
    """What a value is, never what it says: these values are secrets."""
    if value is None:
        return "null"
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def api_id_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return f"must be a whole number, got {describe_kind(value)}"
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
