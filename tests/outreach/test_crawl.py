"""The crawler and scan_site against the synthetic sites on loopback (tests/emulators/sites.py)."""

import json

import pytest
from django.core.cache import cache

from outreach.crawl import contact_links, crawl_site, decode_html, http_fetch, user_agent
from outreach.enrichment import scan_site
from outreach.mx import FakeMxResolver, MxLookupFailed, NoMailDomain
from tests.conftest import free_port
from tests.emulators.sites import SitesEmulator, page


@pytest.fixture(scope="module")
def sites():
    with SitesEmulator() as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def scan(url, **kwargs):
    return scan_site(url, resolver=kwargs.pop("resolver", FakeMxResolver()), **kwargs)


# --- the Done-when table, end to end -----------------------------------------------------
@pytest.mark.parametrize(
    ("site", "primary", "secondary"),
    [
        ("mailto-and-text", "sales@example.com", ["info@example.com"]),
        ("phone-mailto", None, []),
        ("jurint", "info@jurint.pro", []),
        ("mixed-case", "hello@site.com", ["sales@site.com"]),
        ("contact-only", "office@alfa-pack.example", []),
        ("empty", None, []),
        ("junk", "hello@junk.example", []),
        ("linked", "zakaz@linked.example", []),
    ],
)
def test_it_finds_the_sites_addresses(sites, site, primary, secondary):
    result = scan(sites.url(site))
    assert (result.primary.email if result.primary else None) == primary
    assert [e.email for e in result.secondary] == secondary
    assert not result.retry_later


def test_an_address_only_on_the_contact_page_is_found(sites):
    result = scan(sites.url("contact-only"))
    assert result.primary.email == "office@alfa-pack.example"
    assert sites.url("contact-only") + "contact" in result.pages
    assert "ООО Альфа" in result.excerpt  # the excerpt comes from the homepage, not /contact


def test_a_site_without_addresses_gives_no_emails_and_no_retry(sites):
    result = scan(sites.url("empty"))
    assert result.emails == []
    assert not result.retry_later
    assert result.errors == []
    assert result.excerpt == "Мебель на заказ Звоните: +7 (812) 000-00-00"


def test_obfuscated_and_cloudflare_addresses_are_decoded(sites):
    result = scan(sites.url("obfuscated"))
    assert result.primary.email == "director@obfuscated.example"  # a protected mailto: link
    assert {e.email for e in result.secondary} == {
        "info@obfuscated.example",
        "buh@obfuscated.example",
        "sales@obfuscated.example",
    }


def test_junk_is_rejected_with_reasons(sites):
    rejected = dict(scan(sites.url("junk")).rejected)
    assert rejected["logo@2x.png"] == "file name"
    assert rejected["u003einfo@site.ru"] == "escape residue"
    assert rejected["noreply@junk.example"] == "no-reply mailbox"


def test_the_excerpt_has_no_control_characters(sites):
    assert scan(sites.url("control-chars")).excerpt == "Привет мир!"


# --- robots.txt ----------------------------------------------------------------------------
def test_it_obeys_the_robots_rules_that_name_it(sites):
    result = scan(sites.url("robots"))
    assert "/contact" not in sites.hits("robots")
    assert sites.url("robots") + "contact" in result.blocked_by_robots
    assert result.primary.email == "about@robots.example"
    assert "hidden@robots.example" not in {e.email for e in result.emails}
    assert sites.hits("robots").count("/robots.txt") == 1


def test_an_unreachable_robots_txt_means_nothing_is_fetched_and_retry_later():
    with SitesEmulator(only=("robots-down",)) as one:
        url = one.url("robots-down")
        result = scan(url)
        assert set(one.hits("robots-down")) == {"/robots.txt"}
    assert result.emails == []
    assert result.site_transient and result.retry_later
    assert result.blocked_by_robots == [url]


# --- which pages -----------------------------------------------------------------------------
def test_it_follows_contact_looking_links_first_and_stays_on_the_site():
    with SitesEmulator(only=("linked", "empty")) as two:
        crawl = crawl_site(two.url("linked"))
        hits = two.hits("linked")
        assert hits[:3] == ["/robots.txt", "/", "/o-kompanii/svyaz/"]
        assert "/catalog" not in hits and "/price.pdf" not in hits
        assert two.hits("empty") == []  # the link to another site was not followed
        assert [p.url for p in crawl.pages] == [two.url("linked"), two.url("linked") + "o-kompanii/svyaz/"]


def test_contact_links_ranks_contacts_before_requisites_before_about():
    html = page(
        '<a href="/about">О нас</a><a href="/req">Реквизиты</a><a href="/x">Контакты</a>'
        '<a href="https://other.example/contacts">Контакты партнёра</a><a href="mailto:a@b.example">contact</a>'
        '<a href="/files/contacts.pdf">Контакты (PDF)</a><a href="/x#map">Карта</a>'
    )
    assert contact_links(html, "https://site.example/") == [
        "https://site.example/x",
        "https://site.example/req",
        "https://site.example/about",
    ]


def test_it_tries_the_fixed_paths_in_order(sites):
    crawl_site(sites.url("empty"))
    assert sites.hits("empty")[-9:] == [
        "/",
        "/contact",
        "/contacts",
        "/contact-us",
        "/about",
        "/about-us",
        "/kontakty",
        "/rekvizity",
        "/company",
    ]


def test_it_stops_at_max_pages():
    with SitesEmulator(only=("empty",)) as one:
        crawl_site(one.url("empty"), max_pages=3)
        assert one.hits("empty") == ["/robots.txt", "/", "/contact", "/contacts"]  # robots.txt is not a page


def test_page_errors_are_recorded_not_raised(sites):
    result = scan(sites.url("broken"))
    base = sites.url("broken")
    assert result.errors == [f"{base}kontakty: GET 127.0.0.1: HTTP 500"]
    assert f"{base}contact: not HTML (image/png)" in result.skipped
    assert f"{base}about: not HTML (application/pdf)" in result.skipped
    assert f"{base}contacts: HTTP 404" in result.skipped
    assert result.primary.email == "rekv@broken.example"  # a cp1251 page without a declared charset
    assert not result.retry_later


def test_redirects_are_followed_on_the_site_only(sites):
    result = scan(sites.url("redirect"))
    base = sites.url("redirect")
    assert result.final_url == base + "home"
    assert result.primary.email == "info@redirect.example"
    assert sites.hits("redirect").count("/home") == 1  # /contacts -> /home was already read
    assert f"{base}about: redirects off-site" in result.skipped


def test_it_sends_an_honest_user_agent(sites, settings):
    settings.DEFAULT_FROM_EMAIL = "ops@leadops.example"
    before = len(sites.requests["jurint"])
    crawl_site(sites.url("jurint"))
    agents = {agent for _, agent in sites.requests["jurint"][before:]}
    assert agents == {"leadops-enrichment/1.0 (+mailto:ops@leadops.example)"}
    settings.OUTREACH_CRAWLER_CONTACT = "https://leadops.example/bot"
    assert user_agent() == "leadops-enrichment/1.0 (+https://leadops.example/bot)"


def test_the_ssrf_guard_still_applies(sites, settings):
    settings.OUTBOUND_HTTP_ALLOWLIST = []
    before = len(sites.hits("jurint"))
    result = scan(sites.url("jurint"))
    assert len(sites.hits("jurint")) == before
    assert result.emails == [] and not result.site_transient
    assert any("non-public address" in error for error in result.errors)


def test_a_site_that_does_not_answer_is_retried_later():
    result = scan(f"http://127.0.0.1:{free_port()}/")
    assert result.site_transient and result.retry_later
    assert result.emails == [] and result.errors


def test_a_bad_url_is_an_error_not_an_exception():
    result = scan("mailto:someone@example.com")
    assert result.emails == [] and result.errors and not result.retry_later


def test_a_custom_fetch_is_used(sites):
    seen = []

    def fetch(url, **kwargs):
        seen.append(url)
        return http_fetch(url, **kwargs)

    assert scan(sites.url("jurint"), fetch=fetch).primary.email == "info@jurint.pro"
    assert seen[:2] == [sites.url("jurint") + "robots.txt", sites.url("jurint")]


# --- the MX check in scan_site ------------------------------------------------------------------
def test_addresses_at_domains_without_mail_are_dropped(sites):
    resolver = FakeMxResolver({"example.com": NoMailDomain("nxdomain")})
    result = scan(sites.url("mailto-and-text"), resolver=resolver)
    assert result.emails == []
    assert dict(result.dropped) == {
        "sales@example.com": "no mail host: nxdomain",
        "info@example.com": "no mail host: nxdomain",
    }
    assert resolver.calls["example.com"] == 1  # one lookup per domain
    assert not result.retry_later


def test_a_failed_mx_lookup_keeps_the_address_and_asks_to_retry(sites):
    resolver = FakeMxResolver({"jurint.pro": MxLookupFailed("timeout")})
    result = scan(sites.url("jurint"), resolver=resolver)
    assert result.primary.email == "info@jurint.pro"
    assert result.mx_transient and result.retry_later
    assert result.mx["jurint.pro"].transient


def test_as_json_is_json(sites):
    data = json.loads(json.dumps(scan(sites.url("mailto-and-text")).as_json(), ensure_ascii=False))
    assert data["primary"] == {"email": "sales@example.com", "score": 1.0, "source": "mailto"}
    assert data["secondary"] == [{"email": "info@example.com", "score": 0.85, "source": "text"}]
    assert data["mx"]["example.com"]["hosts"] == ["mx.example.com"]
    assert data["retry_later"] is False


@pytest.mark.parametrize(
    ("content", "content_type", "expected"),
    [
        ("Привет".encode(), "text/html; charset=utf-8", "Привет"),
        ("Привет".encode("cp1251"), "text/html; charset=windows-1251", "Привет"),
        ('<meta charset="windows-1251">Привет'.encode("cp1251"), "text/html", '<meta charset="windows-1251">Привет'),
        ("Привет".encode("cp1251"), "text/html", "Привет"),  # undeclared, not UTF-8: cp1251
        ("Привет".encode(), "text/html; charset=bogus", "Привет"),
    ],
)
def test_decode_html(content, content_type, expected):
    assert decode_html(content, content_type) == expected
