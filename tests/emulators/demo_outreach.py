"""The outreach demo's world: the emulators `make demo` runs, configured in one place.

The run scripts (run_yandex, run_sites, run_smtp; run_openai needs nothing from here)
and tests/outreach/test_demo_outreach.py build the emulators with the functions below,
so the test proves the configuration the demo runs with. The Makefile's DEMO_ENV
points the app at the ports and secrets named here (the test checks that too).

Companies are keyed by host (outreach.normalize.canonical_domain drops the port), so
each demo site listens on its own loopback address, 127.0.0.2, 127.0.0.3, ... (Linux
routes all of 127.0.0.0/8 to loopback), on one port; DEMO_ENV's
OUTBOUND_HTTP_ALLOWLIST is 127.0.0.0/8 so the crawler may reach them. Every name and
address here is made up: companies, `.example` mail domains, the token and folder.
"""

import itertools
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.emulators.sites import Route, SitesEmulator, _Site, page
from tests.emulators.yandex import YandexEmulator

ROOT = Path(__file__).resolve().parent.parent.parent
# aiosmtpd logs every SMTP command at INFO: noise in the demo's output.
logging.getLogger("mail.log").setLevel(logging.WARNING)

YANDEX_PORT = 8092
SITES_PORT = 8094
SMTP_PORT = 8025
YANDEX_TOKEN = "demo-yandex-iam-token"  # a static "IAM token" only the emulator accepts
YANDEX_FOLDER = "demo-folder"
OPERATION_DELAY = 10.0  # seconds until a deferred search is done (Yandex takes minutes)
MAIL_DIR = "var/demo_mail"


@dataclass(frozen=True)
class DemoSite:
    name: str
    address: str  # its own loopback address: its own company
    title: str  # the result's title, which becomes the company's name
    snippet: str  # the result's passage
    keywords: tuple[str, ...]  # a query with one of these finds this site first
    pages: dict
    result_path: str = ""  # the page Yandex lists, when it is not the homepage


SITES = (
    DemoSite(
        "alfa-pack",
        "127.0.0.2",
        "Альфа-Упаковка",
        "Гофрокороба и упаковка на заказ",
        ("упаков", "короб"),
        {
            "/": page(
                '<nav><a href="/catalog">Каталог</a> <a href="/kontakty">Контакты</a></nav>'
                "<h1>ООО «Альфа-Упаковка»</h1><p>Гофрокороба, плёнка и упаковка для маркетплейсов с 2009 года.</p>"
            ),
            "/catalog": page("<h1>Каталог</h1><p>Коробы, плёнка, скотч.</p>"),
            "/kontakty": page("<h1>Контакты</h1><p>Отдел продаж: sales@alfa-pack.example</p>"),
        },
        result_path="catalog",
    ),
    DemoSite(
        "beta-dent",
        "127.0.0.3",
        "Бета Дент",
        "Стоматология у метро, без очередей",
        ("стоматолог", "зуб"),
        {
            "/": page(
                "<h1>Стоматология «Бета Дент»</h1><p>Лечение, имплантация и гигиена без очередей.</p>"
                '<p><a href="mailto:reception@beta-dent.example">Записаться по почте</a></p>'
            ),
        },
    ),
    DemoSite(
        "gamma-auto",
        "127.0.0.4",
        "Гамма Авто",
        "Автосервис и шиномонтаж",
        ("автосервис", "шиномонтаж", "авто"),
        {
            "/": page("<h1>Автосервис «Гамма Авто»</h1><p>Ремонт подвески, диагностика, шиномонтаж.</p>"),
            # Not linked from the homepage: the crawler finds it among the usual contact paths.
            "/contact": page("<p>Пишите мастеру: service [at] gamma-auto [dot] example</p>"),
        },
    ),
    DemoSite(
        "delta-cafe",
        "127.0.0.5",
        "Кафе Дельта",
        "Завтраки и бизнес-ланчи",
        ("кафе", "ресторан"),
        {
            # No address anywhere: the company ends up "contacts not found".
            "/": page("<h1>Кафе «Дельта»</h1><p>Бизнес-ланч с 12 до 16. Бронь столов: +7 (900) 000-00-00</p>"),
        },
    ),
    DemoSite(
        "epsilon-print",
        "127.0.0.6",
        "Эпсилон Принт",
        "Типография полного цикла",
        ("типограф", "печать"),
        {
            "/robots.txt": Route("User-agent: *\nDisallow: /contact\n", content_type="text/plain"),
            "/": page("<h1>Типография «Эпсилон Принт»</h1><footer>Заказы: info@epsilon-print.example</footer>"),
            "/contact": page("<p>robots.txt asks crawlers to stay away from this page</p>"),
        },
    ),
)


class DemoSites(SitesEmulator):
    """The demo companies' websites, each on its own loopback address, all on one port (0: any free one)."""

    def __init__(self, port: int = SITES_PORT):
        super().__init__({site.name: site.pages for site in SITES}, only=tuple(site.name for site in SITES))
        self.port = port
        self.addresses = {site.name: site.address for site in SITES}

    def start(self) -> "DemoSites":
        for name in self.sites:
            server = _Site(name, self, self.addresses[name])
            server.port = self.port
            self._servers[name] = server.start()
        return self

    def url(self, name: str) -> str:
        return f"http://{self.addresses[name]}:{self._servers[name].port}/"

    def urls(self) -> dict[str, str]:
        return {name: self.url(name) for name in self.sites}


def site_urls(port: int = SITES_PORT) -> dict[str, str]:
    """Where the demo sites answer when run_sites.py runs them on `port`."""
    return {site.name: f"http://{site.address}:{port}/" for site in SITES}


def demo_serp(urls: dict[str, str]) -> Callable[[str, int], bytes]:
    """Yandex's answer to any query: every demo site, those whose keywords the query has first."""

    def serp(text: str, lr: int) -> bytes:
        lowered = text.lower()
        ranked = sorted(SITES, key=lambda site: not any(word in lowered for word in site.keywords))
        groups = []
        for site in ranked:
            url = urls[site.name] + site.result_path
            host = url.split("/")[2]
            groups.append(
                f"<group><doccount>1</doccount><doc><url>{escape(url)}</url><domain>{host}</domain>"
                f"<title>{escape(site.title)}</title>"
                f"<passages><passage>{escape(site.snippet)}</passage></passages>"
                "<properties><lang>ru</lang></properties></doc></group>"
            )
        n = len(groups)
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>\n<yandexsearch version="1.0">'
            f"<request><query>{escape(text)}</query><page>0</page></request>"
            f'<response date="20250310T220000"><region id="{int(lr)}"/><reqid>demo-{n}</reqid>'
            f'<found priority="all">{n}</found><results><grouping attr="d" mode="deep" groups-on-page="100" '
            f'docs-in-group="1"><found priority="all">{n}</found><page first="1" last="{n}">0</page>'
            + "".join(groups)
            + "</grouping></results></response></yandexsearch>"
        )
        return xml.encode("utf-8")

    return serp


def demo_yandex(
    urls: dict[str, str], *, port: int = YANDEX_PORT, operation_delay: float = OPERATION_DELAY
) -> YandexEmulator:
    """The Yandex emulator on the real clock, answering every search with the demo sites (not started)."""
    emulator = YandexEmulator(port=port, folder_id=YANDEX_FOLDER, operation_delay=operation_delay, serp=demo_serp(urls))
    emulator.add_static_token(YANDEX_TOKEN)
    return emulator


def mail_dir(value: str | os.PathLike | None = None) -> Path:
    """The captured-mail directory: `value`, else DEMO_MAIL_DIR, else var/demo_mail; relative to the project."""
    return Path(ROOT, value or os.environ.get("DEMO_MAIL_DIR") or MAIL_DIR)


class _Capture:
    """aiosmtpd handler: every message is accepted and written to a file."""

    def __init__(self, server: "CaptureSmtpServer"):
        self.server = server

    async def handle_DATA(self, smtp, session, envelope):
        self.server.save(bytes(envelope.content))
        return "250 2.0.0 Message accepted for delivery"


class CaptureSmtpServer:
    """The demo's SMTP server on loopback: accepts every email and writes each as an .eml file into `directory`.

    Files, not memory: the admin page that lists them runs in another process. (Not
    tests.emulators.smtp.SmtpServer: that one records in memory and brings the test fixtures along.)
    """

    host = "127.0.0.1"

    def __init__(self, directory: str | os.PathLike, *, port: int = SMTP_PORT):
        self.directory = Path(directory)
        self.port = port
        self._numbers = itertools.count(1)
        self._controller: Controller | None = None

    def start(self) -> "CaptureSmtpServer":
        self.directory.mkdir(parents=True, exist_ok=True)
        self._controller = Controller(_Capture(self), hostname=self.host, port=self.port, ready_timeout=10)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> "CaptureSmtpServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def save(self, data: bytes) -> Path:
        name = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{os.getpid()}-{next(self._numbers):05d}.eml"
        # Written aside and renamed: the admin page never reads half a message.
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".incoming-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        path = self.directory / name
        os.replace(tmp, path)
        return path
