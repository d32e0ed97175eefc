"""MX lookups: the cache rules with the fake, the Russian-MX rule, and the DNS adapter
against a tiny DNS server on loopback (never the internet)."""

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from django.core.cache import cache

from outreach import mx
from outreach.mx import (
    DnsMxResolver,
    FakeMxResolver,
    MxLookupFailed,
    NoMailDomain,
    get_mx_resolver,
    is_russian_mx,
    lookup_mx,
)


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


# --- the cache -------------------------------------------------------------------------
def test_it_returns_hosts_and_caches_them():
    fake = FakeMxResolver({"shop.example": ["mx2.shop.example", "mx1.shop.example"]})
    first = lookup_mx("Shop.Example.", resolver=fake)
    second = lookup_mx("shop.example", resolver=fake)
    assert (first.ok, first.transient, first.hosts) == (True, False, ("mx2.shop.example", "mx1.shop.example"))
    assert (second.hosts, second.cached) == (first.hosts, True)
    assert fake.calls["shop.example"] == 1


@pytest.mark.parametrize(
    ("answer", "reason"),
    [(NoMailDomain("nxdomain"), "nxdomain"), ([], "no MX or A"), (NoMailDomain("null MX"), "null MX")],
)
def test_it_caches_a_definitive_no(answer, reason):
    fake = FakeMxResolver({"gone.example": answer})
    first = lookup_mx("gone.example", resolver=fake)
    second = lookup_mx("gone.example", resolver=fake)
    assert (first.ok, first.transient, first.reason) == (False, False, reason)
    assert (second.ok, second.cached) == (False, True)
    assert fake.calls["gone.example"] == 1


class RecordingCache:
    def __init__(self):
        self.sets = []

    def get(self, key):
        return None

    def set(self, key, value, timeout):
        self.sets.append((key, timeout))


def test_it_caches_for_a_week(monkeypatch):
    recording = RecordingCache()
    monkeypatch.setattr(mx, "cache", recording)
    lookup_mx("shop.example", resolver=FakeMxResolver())
    lookup_mx("gone.example", resolver=FakeMxResolver(default="nxdomain"))
    lookup_mx("flaky.example", resolver=FakeMxResolver({"flaky.example": MxLookupFailed("timeout")}))
    assert recording.sets == [("outreach:mx:shop.example", 7 * 24 * 3600), ("outreach:mx:gone.example", 7 * 24 * 3600)]


@pytest.mark.parametrize("failure", [MxLookupFailed("timeout"), MxLookupFailed("servfail"), MxLookupFailed])
def test_it_does_not_cache_a_failed_lookup(failure):
    fake = FakeMxResolver({"flaky.example": failure})
    first = lookup_mx("flaky.example", resolver=fake)
    assert (first.ok, first.transient) == (False, True)
    fake.set("flaky.example", ["mx.flaky.example"])  # DNS is back
    second = lookup_mx("flaky.example", resolver=fake)
    assert (second.ok, second.transient, second.cached) == (True, False, False)
    assert fake.calls["flaky.example"] == 2


def test_it_refuses_names_that_cannot_be_domains():
    fake = FakeMxResolver()
    for name in ["", "a..b", "has space.example", "x" * 64 + ".example"]:
        result = lookup_mx(name, resolver=fake)
        assert (result.ok, result.transient, result.reason) == (False, False, "invalid domain")
    assert not fake.calls


def test_it_looks_up_idn_domains_in_ascii():
    fake = FakeMxResolver()
    assert lookup_mx("пример.рф", resolver=fake).domain == "xn--e1afmkfd.xn--p1ai"
    assert list(fake.calls) == ["xn--e1afmkfd.xn--p1ai"]


def test_the_fake_can_default_to_nxdomain():
    assert lookup_mx("unknown.example", resolver=FakeMxResolver(default="nxdomain")).reason == "nxdomain"


def test_the_configured_resolver_is_one_shared_fake_in_tests():
    resolver = get_mx_resolver()
    assert isinstance(resolver, FakeMxResolver)
    assert get_mx_resolver() is resolver
    resolver.set("configured.example", NoMailDomain("nxdomain"))
    try:
        assert lookup_mx("configured.example").reason == "nxdomain"
        assert lookup_mx("anything-else.example").hosts == ("mx.anything-else.example",)
    finally:
        resolver.reset()


# --- is_russian_mx -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        (["mx.yandex.net"], True),
        (["mx.yandex.ru"], True),
        (["mxs.mail.ru"], True),
        (["emx.mail.ru"], True),
        (["mx1.beget.com"], True),
        (["mail.company.su"], True),
        (["mx.компания.рф"], True),
        (["mx.xn--e1afmkfd.xn--p1ai."], True),
        (["aspmx.l.google.com", "mx.yandex.net"], True),  # any host: mail may go to any
        (["aspmx.l.google.com", "alt1.aspmx.l.google.com"], False),
        (["example-com.mail.protection.outlook.com"], False),
        (["mx.notyandex.net"], False),
        (["ru.example.com"], False),
        ([], False),
    ],
)
def test_is_russian_mx(hosts, expected):
    assert is_russian_mx(hosts) is expected


# --- the DNS adapter, against a DNS server on loopback --------------------------------------
class TinyDns:
    """Answers A/AAAA/MX from `zone`; names in `nxdomain` get NXDOMAIN, in `servfail` SERVFAIL,
    in `silent` no answer at all (so the client times out)."""

    def __init__(self, zone, *, nxdomain=(), servfail=(), silent=()):
        self.zone, self.nxdomain, self.servfail, self.silent = zone, set(nxdomain), set(servfail), set(silent)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            if name in self.silent:
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.RA
            if name in self.nxdomain:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif name in self.servfail:
                response.set_rcode(dns.rcode.SERVFAIL)
            else:
                rdtype = dns.rdatatype.to_text(question.rdtype)
                records = self.zone.get(name, {}).get(rdtype, [])
                if records:
                    response.answer.append(dns.rrset.from_text(question.name, 300, "IN", rdtype, *records))
            self.sock.sendto(response.to_wire(), peer)


ZONE = {
    "shop.example": {"MX": ["20 backup.shop.example.", "10 mx.shop.example."]},
    "aonly.example": {"A": ["192.0.2.10"]},
    "v6only.example": {"AAAA": ["2001:db8::1"]},
    "nomail.example": {"TXT": ['"v=spf1 -all"']},
    "nullmx.example": {"MX": ["0 ."]},
}


@pytest.fixture(scope="module")
def tiny_dns():
    with TinyDns(ZONE, nxdomain={"gone.example"}, servfail={"broken.example"}, silent={"slow.example"}) as server:
        yield server


@pytest.fixture
def resolver(tiny_dns):
    return DnsMxResolver(timeout=0.3, nameservers=["127.0.0.1"], port=tiny_dns.port)


def test_dns_returns_mx_hosts_by_preference(resolver):
    assert resolver.resolve_mx("shop.example") == ["mx.shop.example", "backup.shop.example"]


@pytest.mark.parametrize("domain", ["aonly.example", "v6only.example"])
def test_dns_falls_back_to_the_address_record(resolver, domain):
    assert resolver.resolve_mx(domain) == [domain]


@pytest.mark.parametrize(
    ("domain", "reason"),
    [("gone.example", "nxdomain"), ("nomail.example", "no MX or A"), ("nullmx.example", "null MX")],
)
def test_dns_says_no_for_sure(resolver, domain, reason):
    with pytest.raises(NoMailDomain) as caught:
        resolver.resolve_mx(domain)
    assert caught.value.reason == reason


@pytest.mark.parametrize(("domain", "reason"), [("broken.example", "servfail"), ("slow.example", "timeout")])
def test_dns_failures_are_transient(resolver, domain, reason):
    with pytest.raises(MxLookupFailed) as caught:
        resolver.resolve_mx(domain)
    assert caught.value.reason == reason
    result = lookup_mx(domain, resolver=resolver)
    assert (result.transient, result.cached) == (True, False)


def test_dns_adapter_is_built_without_touching_the_network():
    resolver = DnsMxResolver()
    assert resolver.timeout == mx.DEFAULT_TIMEOUT
    assert resolver._resolver is None  # created on the first lookup
