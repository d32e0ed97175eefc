"""Demo data for outreach: a niches sheet, an offer brief and two sender mailboxes.

Only when every outside service the pipeline talks to is a local emulator (`make demo`
points Yandex, OpenAI and SMTP at tests/emulators and keeps the sheet in FAKE_SHEET_FILE):
demo mailboxes must never point at a real SMTP server. Nothing is run here; the pipeline
runs with `manage.py outreach run-once` (or `make demo-outreach`) and the beat entries.
"""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings

from .models import OfferBrief, SenderMailbox
from .sheets import FakeSheetsGateway

# Niches the demo sheet asks for; the Yandex emulator answers every query with the demo sites.
DEMO_SHEET = [
    ["niche", "city", "country", "batch_tag", "status"],
    ["упаковка", "Москва", "", "demo", ""],
    ["стоматология", "Санкт-Петербург", "", "demo", ""],
    ["автосервис", "Казань", "", "demo", ""],
    ["типография", "", "Россия", "demo", ""],
]
DEMO_BRIEF = {
    "offer": "Настроим выгрузку ваших товаров и услуг на маркетплейсы и в Яндекс Бизнес за две недели.",
    "tone": "дружелюбно, коротко, без давления",
    "signature": "Анна Демова\nменеджер по работе с клиентами\nLeadops Demo",
    "language": "ru",
}
# Made-up sender addresses; both mailboxes deliver to the demo SMTP server (EMAIL_HOST:EMAIL_PORT).
DEMO_MAILBOXES = {
    "demo-ru": ("outreach-ru@leadops-demo.example", SenderMailbox.Route.RU),
    "demo-other": ("outreach@leadops-demo.example", SenderMailbox.Route.OTHER),
}


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def emulators_configured() -> bool:
    """Yandex, OpenAI and SMTP on loopback, and the fake sheet in a file every process shares."""
    urls = (settings.YANDEX_SEARCH_URL, settings.YANDEX_OPERATION_URL, settings.OPENAI_BASE_URL)
    return (
        all(_loopback(urlsplit(url).hostname) for url in urls)
        and _loopback(settings.EMAIL_HOST)
        and settings.SHEETS_GATEWAY == "outreach.sheets.FakeSheetsGateway"
        and bool(settings.FAKE_SHEET_FILE)
    )


def load_demo_outreach() -> dict | None:
    """Write the demo sheet (unless it has rows already), the offer brief and the mailboxes; safe to run again.

    Returns what exists afterwards, or None when the settings are not the demo's emulators.
    """
    if not emulators_configured():
        return None
    sheet = FakeSheetsGateway()
    if not sheet.read_rows():  # a sheet from an earlier run keeps the statuses written back to it
        FakeSheetsGateway.load(DEMO_SHEET)
    OfferBrief.objects.get_or_create(name="Demo offer", defaults=DEMO_BRIEF)
    for name, (address, route) in DEMO_MAILBOXES.items():
        SenderMailbox.objects.get_or_create(
            name=name,
            defaults={
                "host": settings.EMAIL_HOST,
                "port": settings.EMAIL_PORT,
                "use_tls": False,  # the demo server speaks plain SMTP on loopback
                "use_ssl": False,
                "from_address": address,
                "route": route,
                "daily_cap": 50,
            },
        )
    return {
        "niches": len(sheet.read_rows()) - 1,
        "briefs": OfferBrief.objects.filter(active=True).count(),
        "mailboxes": SenderMailbox.objects.filter(name__in=DEMO_MAILBOXES).count(),
    }
