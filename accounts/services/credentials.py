"""Hands a pool account's secrets to the Telegram adapter, and to nothing else."""

from ..models import TelegramAccount


def stored_credentials(session_name: str) -> tuple | None:
    """(api_id, api_hash, string_session, proxy_url) of a stored account, decrypted; None if unknown."""
    account = TelegramAccount.objects.filter(session_name=session_name).first()
    if account is None:
        return None
    return account.api_id, account.api_hash, account.string_session, account.proxy_url or None
