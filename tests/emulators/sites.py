"""Small synthetic company websites on loopback, for the enrichment crawler.

    with SitesEmulator() as sites:                 # every site in CATALOG, one server each
        scan = scan_site(sites.url("contact-only"))  # http://127.0.0.1:PORT/
        sites.hits("contact-only")                 # ["/robots.txt", "/", "/contact", ...]
        sites.user_agents("contact-only")          # the User-Agent of each request

Each site listens on its own port, so the crawler sees each as its own origin, as it
would see two companies' domains. A site is a dict path -> Route (or a str: an HTML
page, 200). A path not in it answers 404. A Route's body may be a callable taking the
emulator, for pages that link to another site: `lambda emu: f'<a href="{emu.url("x")}">'`.
Extra or replacement sites: `SitesEmulator({"mine": {"/": "<p>hi@mine.example</p>"}})`;
`only=("a", "b")` starts just those.

Every address and domain here is made up (`.example`, example.com, or the cases named
in the issue).
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from .base import EmulatorServer


@dataclass(frozen=True)
class Route:
    body: bytes | str | Callable = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict = field(default_factory=dict)


def page(body: str, title: str = "Компания") -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"


def cfemail(address: str, key: int = 0x5A) -> str:
    """Cloudflare's encoding: the key byte, then each byte XORed with it, as hex."""
    return f"{key:02x}" + bytes(b ^ key for b in address.encode()).hex()


NOT_FOUND = Route(page("<h1>404</h1><p>Страница не найдена</p>"), status=404)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

CATALOG: dict[str, dict[str, Route | str]] = {
    "mailto-and-text": {
        "/": page('<a href="mailto:sales@example.com">Написать нам</a><p>Или: info@example.com</p>'),
    },
    "phone-mailto": {
        "/": page('<a href="mailto:+74951234567">Позвонить</a><a href="tel:+74951234567">+7 495 123-45-67</a>'),
    },
    "jurint": {"/": page("<footer><p>Связь: %20info@jurint.pro</p></footer>")},
    "mixed-case": {"/": page('<a href="mailto:HELLO@site.com">Email</a><p>Отдел продаж: Sales@site.com</p>')},
    "contact-only": {
        # The homepage neither shows nor links the address: only the fixed /contact path finds it.
        "/": page("<h1>ООО Альфа</h1><p>Производство упаковки с 2001 года.</p>"),
        "/contact": page("<h1>Контакты</h1><p>Пишите: office@alfa-pack.example</p>"),
    },
    "linked": {
        "/": lambda emu: page(
            '<nav><a href="/catalog">Каталог</a> <a href="/o-kompanii/svyaz/">Связаться с нами</a> '
            f'<a href="{emu.url("empty")}contact">Партнёры</a> <a href="/price.pdf">Прайс</a></nav>'
        ),
        "/o-kompanii/svyaz/": page("<p>Заказы: zakaz@linked.example</p>"),
        "/catalog": page("<p>catalog@linked.example</p>"),
    },
    "empty": {"/": page("<h1>Мебель на заказ</h1><p>Звоните: +7 (812) 000-00-00</p>")},
    "obfuscated": {
        "/": page(
            "<p>Почта: info [at] obfuscated [dot] example</p>"
            f'<p>Бухгалтерия: <span class="__cf_email__" data-cfemail="{cfemail("buh@obfuscated.example")}">'
            "[email&#160;protected]</span></p>"
            f'<a href="/cdn-cgi/l/email-protection#{cfemail("director@obfuscated.example", 0x21)}">Директор</a>'
        ),
        "/contacts": page("<p>Продажи: sales(at)obfuscated(dot)example</p>"),
    },
    "junk": {
        "/": page(
            '<img src="/img/logo@2x.png" srcset="/img/logo@2x.png 2x" alt="logo">'
            "<p>u003einfo@site.ru</p>"
            '<div data-dsn="0123456789abcdef0123456789abcdef@o123456.ingest.sentry.io"></div>'
            "<p>Автоответ: noreply@junk.example. Менеджер: hello@junk.example</p>"
        ),
    },
    "robots": {
        # Everyone else may not crawl at all; we may, except /contact.
        "/robots.txt": Route(
            "User-agent: *\nDisallow: /\n\nUser-agent: leadops-enrichment\nDisallow: /contact\n",
            content_type="text/plain",
        ),
        "/": page("<p>Добро пожаловать</p>"),
        "/contact": page("<p>hidden@robots.example</p>"),
        "/about": page("<p>О нас: about@robots.example</p>"),
    },
    "robots-down": {
        "/robots.txt": Route("oops", status=503, content_type="text/plain"),
        "/": page("<p>info@robots-down.example</p>"),
    },
    "broken": {
        "/": page('<a href="/kontakty">Контакты</a>'),
        "/kontakty": Route(page("<p>Internal error</p>"), status=500),
        "/contact": Route(PNG, content_type="image/png"),
        "/about": Route(b"%PDF-1.4 binary", content_type="application/pdf"),
        "/company": Route(
            page("<p>Реквизиты и почта: rekv@broken.example</p>").encode("cp1251"),
            content_type="text/html",
        ),
        "/rekvizity": Route(
            '<html><head><meta charset="windows-1251"></head><body><p>Юр. адрес: Москва</p></body></html>'.encode(
                "cp1251"
            ),
            content_type="text/html",
        ),
    },
    "control-chars": {"/": page("<p>Привет\u0000 мир\u0008!</p><script>var junk = 1;</script>")},
    "redirect": {
        "/": Route(status=301, headers={"Location": "/home"}),
        "/home": page("<p>info@redirect.example</p>"),
        "/contacts": Route(status=302, headers={"Location": "/home"}),
        "/about": lambda emu: Route(status=302, headers={"Location": emu.url("empty")}),
    },
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server_version = "sites-emulator"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def do_GET(self):
        site = self.server.emulator.name
        emulator = self.server.emulator.parent
        path = urlsplit(self.path).path
        with emulator._lock:
            emulator.requests[site].append((path, self.headers.get("User-Agent", "")))
        route = emulator.sites[site].get(path, NOT_FOUND)
        if callable(route):
            route = route(emulator)
        if isinstance(route, str):
            route = Route(route)
        body = route.body(emulator) if callable(route.body) else route.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in route.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _Site(EmulatorServer):
    """One site's server; the handler reaches it as `self.server.emulator`."""

    handler_class = _Handler

    def __init__(self, name: str, parent: "SitesEmulator", host: str):
        self.name, self.parent, self.host = name, parent, host
        self.thread_name = f"site-{name}"


class SitesEmulator:
    def __init__(self, sites: dict | None = None, *, only: tuple[str, ...] | None = None, host: str = "127.0.0.1"):
        self.sites = {**CATALOG, **(sites or {})}
        if only is not None:
            self.sites = {name: self.sites[name] for name in only}
        self.host = host
        self.requests: dict[str, list[tuple[str, str]]] = {name: [] for name in self.sites}
        self._lock = threading.Lock()
        self._servers: dict[str, _Site] = {}

    def start(self) -> "SitesEmulator":
        for name in self.sites:
            self._servers[name] = _Site(name, self, self.host).start()
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()

    def __enter__(self) -> "SitesEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self._servers[name].port}/"

    def hits(self, name: str) -> list[str]:
        with self._lock:
            return [path for path, _ in self.requests[name]]

    def user_agents(self, name: str) -> set[str]:
        with self._lock:
            return {agent for _, agent in self.requests[name]}
