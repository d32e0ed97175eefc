"""`make demo`'s outreach: the demo data, then `run-once` against the emulators, into the demo mailbox.

The emulators are built by the same functions the run scripts use (tests/emulators/demo_outreach.py)
and the app gets the settings of the Makefile's DEMO_ENV; only ports (free ones here) and the
var/ paths (a temporary directory here) differ from the running demo.
"""

import io
import ipaddress
import re
from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from outreach import iam, steps
from outreach.demo import DEMO_SHEET, load_demo_outreach
from outreach.models import Company, Contact, OfferBrief, OutreachMessage, SenderMailbox, SerpQuery
from outreach.mx import reset_mx_resolver
from outreach.sheets import FakeSheetsGateway
from tests.conftest import ROOT, free_port
from tests.emulators import demo_outreach as demo
from tests.emulators.openai import OpenAIEmulator
from tests.emulators.run_openai import DEMO_KEY, DEMO_PORT

pytestmark = pytest.mark.django_db

ADDRESSES = {
    "alfa-pack": "sales@alfa-pack.example",
    "beta-dent": "reception@beta-dent.example",
    "gamma-auto": "service@gamma-auto.example",
    "epsilon-print": "info@epsilon-print.example",
}  # delta-cafe has none: "contacts not found"


def demo_env() -> dict[str, str]:
    """The Makefile's DEMO_ENV: what `make demo` gives every process."""
    text = (ROOT / "Makefile").read_text()
    value = re.search(r"^DEMO_ENV := ((?:.*\\\n)*.*)$", text, re.M).group(1)
    return dict(pair.split("=", 1) for pair in value.replace("\\\n", " ").split())


def test_make_demo_points_the_app_at_the_demo_emulators():
    env = demo_env()
    yandex = f"http://127.0.0.1:{demo.YANDEX_PORT}"
    assert env["YANDEX_SEARCH_URL"] == f"{yandex}/v2/web/searchAsync"
    assert env["YANDEX_OPERATION_URL"] == f"{yandex}/operations/"
    assert env["YANDEX_IAM_URL"] == f"{yandex}/iam/v1/tokens"
    assert (env["YANDEX_CLOUD_IAM_TOKEN"], env["YANDEX_CLOUD_FOLDER_ID"]) == (demo.YANDEX_TOKEN, demo.YANDEX_FOLDER)
    assert (env["OPENAI_BASE_URL"], env["OPENAI_API_KEY"]) == (f"http://127.0.0.1:{DEMO_PORT}/v1", DEMO_KEY)
    assert (env["EMAIL_HOST"], env["EMAIL_PORT"]) == ("127.0.0.1", str(demo.SMTP_PORT))
    assert env["DEMO_MAIL_DIR"] == demo.MAIL_DIR
    allowed = [ipaddress.ip_network(n) for n in env["OUTBOUND_HTTP_ALLOWLIST"].split(",")]
    for site in demo.SITES:
        assert any(ipaddress.ip_address(site.address) in network for network in allowed), site.address
    procfile = (ROOT / "Procfile.demo").read_text()
    assert f"run_yandex --port {demo.YANDEX_PORT} --sites-port {demo.SITES_PORT}" in procfile
    assert f"run_sites --port {demo.SITES_PORT}" in procfile
    assert f"run_openai --port {DEMO_PORT}" in procfile
    assert f"run_smtp --port {demo.SMTP_PORT} --dir {demo.MAIL_DIR}" in procfile


class Later:
    """Real time moved on by advance(), for the app (django.utils.timezone.now) and the Yandex emulator alike."""

    def __init__(self, monkeypatch, yandex):
        self.offset = timedelta()
        self.yandex = yandex
        real = timezone.now
        monkeypatch.setattr(timezone, "now", lambda: real() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)
        self.yandex.advance(seconds)


@pytest.fixture
def world(settings, tmp_path, clock, monkeypatch):
    """The demo's emulators in-process, and the app configured as DEMO_ENV configures it."""
    env = demo_env()
    settings.OUTBOUND_HTTP_ALLOWLIST = env["OUTBOUND_HTTP_ALLOWLIST"].split(",")
    settings.YANDEX_CLOUD_IAM_TOKEN = env["YANDEX_CLOUD_IAM_TOKEN"]
    settings.YANDEX_CLOUD_SA_KEY_FILE = settings.YANDEX_CLOUD_SA_KEY_JSON = ""
    settings.YANDEX_ENFORCE_NIGHT_WINDOW = env["YANDEX_ENFORCE_NIGHT_WINDOW"] == "true"
    settings.EMAIL_HOST = env["EMAIL_HOST"]
    settings.EMAIL_SENDING_ENABLED = env["EMAIL_SENDING_ENABLED"] == "true"
    settings.OUTREACH_WINDOW = env["OUTREACH_WINDOW"]
    settings.OUTREACH_SPACING = env["OUTREACH_SPACING"]
    settings.OUTREACH_MX_RESOLVER = env["OUTREACH_MX_RESOLVER"]
    settings.SHEETS_GATEWAY = "outreach.sheets.FakeSheetsGateway"
    settings.FAKE_SHEET_FILE = str(tmp_path / "demo_sheet.json")
    settings.DEMO_MAIL_DIR = str(tmp_path / "demo_mail")
    iam.reset_cache()
    reset_mx_resolver()
    cache.clear()
    with demo.DemoSites(port=0) as sites:
        yandex = demo.demo_yandex(sites.urls(), port=0)  # the demo's operation delay, on a clock we move
        smtp = demo.CaptureSmtpServer(settings.DEMO_MAIL_DIR, port=free_port())
        with yandex, OpenAIEmulator(api_key=env["OPENAI_API_KEY"]) as openai, smtp:
            yandex.configure(settings)
            assert env["YANDEX_CLOUD_FOLDER_ID"] == settings.YANDEX_CLOUD_FOLDER_ID
            openai.configure(settings)
            settings.EMAIL_PORT = smtp.port
            yield {
                "sites": sites,
                "yandex": yandex,
                "openai": openai,
                "smtp": smtp,
                "later": Later(monkeypatch, yandex),
            }
    FakeSheetsGateway.load([])
    iam.reset_cache()
    reset_mx_resolver()


def captured(smtp) -> list:
    return [BytesParser(policy=policy.default).parsebytes(f.read_bytes()) for f in sorted(smtp.directory.glob("*.eml"))]


def test_demo_data_is_written_once_and_only_for_the_emulators(world, settings):
    summary = load_demo_outreach()
    assert summary == {"niches": len(DEMO_SHEET) - 1, "briefs": 1, "mailboxes": 2}
    FakeSheetsGateway.rows = []  # another process: the sheet comes from the file
    assert FakeSheetsGateway().read_rows() == DEMO_SHEET
    FakeSheetsGateway().write_cells([(2, 5, "queued")])

    assert load_demo_outreach() == summary  # again: nothing doubled, the sheet's write-back kept
    assert FakeSheetsGateway().read_rows()[1][4] == "queued"
    assert OfferBrief.objects.count() == 1
    mailboxes = {m.route: m for m in SenderMailbox.objects.all()}
    assert set(mailboxes) == {"ru", "other"}
    assert {(m.host, m.port, m.use_tls) for m in mailboxes.values()} == {("127.0.0.1", settings.EMAIL_PORT, False)}

    settings.EMAIL_HOST = "smtp.example.com"  # a real server: never given demo mailboxes
    assert load_demo_outreach() is None


def test_manage_py_demo_loads_it(world, settings):
    settings.REFERENCE_GROUP = ""  # the Telegram demo is another test's business
    out = io.StringIO()
    call_command("demo", stdout=out)
    assert f"Outreach: a demo sheet of {len(DEMO_SHEET) - 1} niches" in out.getvalue()
    assert SenderMailbox.objects.count() == 2


def test_run_once_against_the_demo_emulators_ends_in_the_demo_mailbox(world, admin_client):
    sites, smtp, later = world["sites"], world["smtp"], world["later"]
    load_demo_outreach()

    runs = []
    while len(runs) < 6:
        outcome = steps.run_once()
        runs.append(outcome)
        assert not {name: o for name, o in outcome.items() if "error" in o}, outcome
        if OutreachMessage.objects.filter(status=OutreachMessage.Status.SENT).count() == len(ADDRESSES):
            break
        later.advance(61)  # searches are polled a minute after they start; sends are 5-10 s apart

    # One company per demo site (own loopback address); its homepage is read on the site's port.
    companies = {c.canonical_domain: c for c in Company.objects.all()}
    assert set(companies) == {site.address for site in demo.SITES}
    for site in demo.SITES:
        assert companies[site.address].website_url == sites.url(site.name), "homepage_url must keep the port"
        assert companies[site.address].name == site.title
    assert len(runs) <= 4, runs
    assert set(SerpQuery.objects.values_list("status", flat=True)) == {"completed"}
    assert companies["127.0.0.5"].status == Company.Status.CONTACTS_NOT_FOUND
    primary = {c.company.canonical_domain: c.email for c in Contact.objects.filter(is_primary=True)}
    assert primary == {sites.addresses[name]: email for name, email in ADDRESSES.items()}
    assert "/contact" not in sites.hits("epsilon-print")  # its robots.txt says so

    sent = OutreachMessage.objects.filter(status=OutreachMessage.Status.SENT).select_related("mailbox", "contact")
    assert {m.contact.email for m in sent} == set(ADDRESSES.values())
    assert {m.mailbox.name for m in sent} == {"demo-other"}  # .example mail is not hosted in Russia
    assert all(m.metadata.get("model") for m in sent)  # written by the (emulated) model, not the fallback

    emails = captured(smtp)
    assert sorted(e["To"] for e in emails) == sorted(ADDRESSES.values())
    for email in emails:
        assert "/u/" in email["List-Unsubscribe"] and "mailto:" in email["List-Unsubscribe"]
        assert email["Message-ID"] in {m.message_id for m in sent}

    page = admin_client.get(reverse("admin:outreach_demo_mail"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f"{len(ADDRESSES)} emails" in html
    for message in sent:
        assert message.contact.email in html and message.subject in html
    for email in emails:  # the unsubscribe link is there to click
        assert 'href="{}"'.format(re.search(r"<(http[^>]+)>", email["List-Unsubscribe"]).group(1)) in html
    changelist = admin_client.get(reverse("admin:outreach_outreachmessage_changelist")).content.decode()
    assert reverse("admin:outreach_demo_mail") in changelist

    steps.run_once()  # the sheet hears how its rows went
    FakeSheetsGateway.rows = []
    rows = FakeSheetsGateway().read_rows()
    status = [cell.lower() for cell in rows[0]].index("status")
    assert [row[status] for row in rows[1:]] == ["completed"] * (len(DEMO_SHEET) - 1)


def test_the_demo_mailbox_is_staff_only_and_absent_outside_the_demo(world, client, admin_client, settings):
    url = reverse("admin:outreach_demo_mail")
    assert client.get(url).status_code == 302  # to the login page
    assert "No emails yet" in admin_client.get(url).content.decode()

    settings.DEMO_MAIL_DIR = ""
    assert admin_client.get(url).status_code == 404
    changelist = admin_client.get(reverse("admin:outreach_outreachmessage_changelist")).content.decode()
    assert url not in changelist
