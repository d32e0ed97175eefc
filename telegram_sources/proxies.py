"""Proxy URLs for Telegram accounts, as Telethon (python-socks) wants them."""

import importlib.util
from urllib.parse import unquote, urlsplit

from .gateway import PermanentError

_PROXY_SCHEMES = {"socks5": "socks5", "socks5h": "socks5", "socks4": "socks4", "http": "http", "https": "http"}


def parse_proxy_url(url: str | None) -> dict | None:
    """`socks5://user:pass@host:port` / `http://host:port` -> Telethon's (python-socks style) proxy dict."""
    if not url:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme.lower() not in _PROXY_SCHEMES or not parts.hostname or not port:
        # Only the scheme is echoed: the URL may carry a password.
        raise PermanentError(f"proxy URL must look like socks5://user:pass@host:port (scheme {parts.scheme!r})")
    return {
        "proxy_type": _PROXY_SCHEMES[parts.scheme.lower()],
        "addr": parts.hostname,
        "port": port,
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "rdns": True,  # let the proxy resolve names: no DNS leaks from the worker
    }


def proxy_supported() -> bool:
    # Without python-socks Telethon only warns and connects directly, exposing the worker's address.
    return importlib.util.find_spec("python_socks") is not None
