import logging
import socket
import time
import traceback

import pytest

from leadops import http as outbound
from tests.conftest import free_port
from tests.leadops.http_peers import Peer

SECRET = "SECRET-token-1234"


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(outbound, "BACKOFF_FACTOR", 0)


@pytest.fixture
def peer():
    with Peer() as server:
        yield server


@pytest.fixture
def no_allowlist(settings):
    settings.OUTBOUND_HTTP_ALLOWLIST = []


def fake_dns(monkeypatch, *answers):
    """Make every name resolve to the given IPs in turn (the last one repeats); return the call log."""
    calls = []

    def resolve(host, port):
        ip = answers[min(len(calls), len(answers) - 1)]
        calls.append((host, ip))
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port))]

    monkeypatch.setattr(outbound, "_resolve", resolve)
    return calls


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::1]/",
        "http://0.0.0.0/",
        "http://10.0.0.1/",
        "http://100.64.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "https://192.168.1.1/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[fe80::1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
    ],
)
def test_it_refuses_non_public_addresses_in_any_spelling(no_allowlist, url):
    with pytest.raises(outbound.BlockedDestination):
        outbound.get(url)


def test_it_refuses_localhost(no_allowlist, peer):
    with pytest.raises(outbound.BlockedDestination):
        outbound.get(f"http://localhost:{peer.port}/ok")
    assert peer.hits.total() == 0


@pytest.mark.parametrize("url", ["ftp://example.com/file", "file:///etc/passwd", "gopher://127.0.0.1/", "no-scheme"])
def test_it_refuses_schemes_other_than_http(url):
    with pytest.raises(outbound.PermanentHttpError) as caught:
        outbound.get(url, trusted=True)
    assert type(caught.value) is outbound.PermanentHttpError


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://0xa9fea9fe/",
        "http://10.1/",
    ],
)
def test_it_checks_every_redirect_hop(peer, settings, target):
    settings.OUTBOUND_HTTP_ALLOWLIST = ["127.0.0.1/32"]
    with pytest.raises(outbound.BlockedDestination):
        outbound.get(f"{peer.url}/redirect", params={"to": target})
    assert peer.hits["/redirect"] == 1


def test_it_follows_allowed_redirects(peer):
    response = outbound.get(f"{peer.url}/redirect", params={"to": "/ok"})
    assert response.status_code == 200
    assert [hop.status_code for hop in response.history] == [302]


def test_it_stops_after_five_redirects(peer):
    with pytest.raises(outbound.PermanentHttpError, match="TooManyRedirects"):
        outbound.get(f"{peer.url}/loop")
    assert peer.hits["/loop"] == 6


def test_it_refuses_a_redirect_to_another_scheme(peer):
    with pytest.raises(outbound.PermanentHttpError):
        outbound.get(f"{peer.url}/redirect", params={"to": "ftp://127.0.0.1/"})


def test_it_lets_trusted_calls_reach_loopback_without_the_allowlist(no_allowlist, peer):
    assert outbound.get(f"{peer.url}/ok", trusted=True).text == f"127.0.0.1:{peer.port}"


def test_it_reads_the_allowlist_at_call_time(settings, peer):
    settings.OUTBOUND_HTTP_ALLOWLIST = []
    with pytest.raises(outbound.BlockedDestination):
        outbound.get(f"{peer.url}/ok")
    settings.OUTBOUND_HTTP_ALLOWLIST = ["127.0.0.1/32"]
    assert outbound.get(f"{peer.url}/ok").status_code == 200
    assert peer.hits["/ok"] == 1


def test_it_checks_the_address_it_connects_to_not_an_earlier_lookup(no_allowlist, monkeypatch, peer):
    # DNS rebinding: a public answer for the first lookup, loopback from then on.
    calls = fake_dns(monkeypatch, "93.184.216.34", "127.0.0.1")
    with pytest.raises(outbound.BlockedDestination, match="127.0.0.1"):
        outbound.get(f"http://rebind.example:{peer.port}/ok")
    assert calls == [("rebind.example", "93.184.216.34"), ("rebind.example", "127.0.0.1")]
    assert peer.hits.total() == 0


def test_it_connects_to_the_checked_address_and_keeps_the_host_name(settings, monkeypatch, peer):
    settings.OUTBOUND_HTTP_ALLOWLIST = ["127.0.0.1/32"]
    fake_dns(monkeypatch, "127.0.0.1")
    response = outbound.get(f"http://emulator.example:{peer.port}/ok")
    assert response.text == f"emulator.example:{peer.port}"


def test_it_retries_5xx_until_success(peer):
    response = outbound.get(f"{peer.url}/flaky")
    assert (response.status_code, response.text) == (200, "flaky")
    assert peer.hits["/flaky"] == 3


def test_it_gives_up_on_5xx_as_transient(peer):
    with pytest.raises(outbound.TransientHttpError) as caught:
        outbound.get(f"{peer.url}/status/503", retries=2)
    assert caught.value.status == 503
    assert peer.hits["/status/503"] == 3


def test_it_does_not_repeat_a_post_on_5xx(peer):
    with pytest.raises(outbound.TransientHttpError):
        outbound.post(f"{peer.url}/status/503", json={"a": 1})
    assert peer.hits["/status/503"] == 1


def test_it_treats_404_as_permanent(peer):
    with pytest.raises(outbound.PermanentHttpError) as caught:
        outbound.get(f"{peer.url}/status/404")
    assert type(caught.value) is outbound.PermanentHttpError
    assert peer.hits["/status/404"] == 1


def test_it_treats_429_as_transient(peer):
    with pytest.raises(outbound.TransientHttpError):
        outbound.get(f"{peer.url}/status/429")
    assert peer.hits["/status/429"] == 1


def test_it_treats_connection_refused_as_transient():
    with pytest.raises(outbound.TransientHttpError, match="ConnectionRefusedError"):
        outbound.get(f"http://127.0.0.1:{free_port()}/", trusted=True)


def test_it_refuses_a_body_over_max_bytes(peer):
    with pytest.raises(outbound.ResponseTooLarge, match="body exceeds"):
        outbound.get(f"{peer.url}/big", params={"n": 200_000}, max_bytes=100_000)
    assert outbound.get(f"{peer.url}/big", params={"n": 100_000}, max_bytes=100_000).content == b"x" * 100_000


def test_it_refuses_a_declared_length_over_max_bytes_before_reading(peer):
    with pytest.raises(outbound.ResponseTooLarge, match="Content-Length"):
        outbound.get(f"{peer.url}/declared-big", max_bytes=1000)


def test_it_caps_redirect_bodies_too(peer):
    with pytest.raises(outbound.ResponseTooLarge):
        outbound.get(f"{peer.url}/redirect", params={"to": "/declared-big"}, max_bytes=1000)


def test_it_treats_a_read_timeout_as_transient(peer):
    started = time.monotonic()
    with pytest.raises(outbound.TransientHttpError, match="ReadTimeout"):
        outbound.get(f"{peer.url}/slow", timeout=(2, 0.5))
    assert time.monotonic() - started < 1.4  # not retried


@pytest.mark.parametrize("path", ["/status/404", "/status/503", "/nowhere"])
def test_it_keeps_the_query_string_out_of_errors(peer, path):
    url = peer.url + path if path != "/nowhere" else f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(outbound.HttpError) as caught:
        outbound.get(url, params={"access_token": SECRET}, retries=0)
    message = str(caught.value)
    assert "GET 127.0.0.1" in message
    assert SECRET not in "".join(traceback.format_exception(caught.value))


def test_it_names_method_host_and_status(peer):
    with pytest.raises(outbound.PermanentHttpError, match=r"^GET 127\.0\.0\.1: HTTP 404$"):
        outbound.get(f"{peer.url}/status/404?access_token={SECRET}")


def test_it_logs_method_host_and_status_only(peer, caplog):
    with caplog.at_level(logging.DEBUG, logger="leadops.http"):
        outbound.get(f"{peer.url}/ok", params={"access_token": SECRET})
    assert "GET 127.0.0.1 -> 200" in caplog.text
    assert SECRET not in caplog.text


def test_it_returns_a_response_with_the_body_read(peer):
    response = outbound.post(f"{peer.url}/ok", json={"x": 1})
    assert response.status_code == 200
    assert response.text == f"127.0.0.1:{peer.port}"


def test_it_keeps_the_query_string_out_of_urllib3_logs(peer, caplog):
    with caplog.at_level(logging.DEBUG), pytest.raises(outbound.TransientHttpError):
        outbound.get(f"{peer.url}/status/503", params={"access_token": SECRET}, retries=1)
    assert "Retry" in caplog.text
    assert SECRET not in caplog.text
