import pytest

from outreach.normalize import (
    InvalidURL,
    canonical_domain,
    canonical_set,
    is_blocked,
    normalize_url,
    registrable_domain,
)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("example.com", "https://example.com/"),
        ("example.com/", "https://example.com/"),
        ("HTTP://WWW.test.ru/path//", "http://test.ru/path"),
        ("https://a.ru:8080/x/?q=1#frag", "https://a.ru:8080/x?q=1"),
        ("https://a.ru/x/?q=1&b=2", "https://a.ru/x?q=1&b=2"),
        ("https://a.ru/?q=1", "https://a.ru/?q=1"),
        ("http://a.ru:80/", "http://a.ru/"),
        ("https://a.ru:443/x", "https://a.ru/x"),
        ("https://a.ru:8443", "https://a.ru:8443/"),
        ("https://a.ru//one///two//", "https://a.ru/one/two"),
        ("https://a.ru#top", "https://a.ru/"),
        ("https://a.ru/x?", "https://a.ru/x"),
        ("//cdn.a.ru/x", "https://cdn.a.ru/x"),
        ("  https://A.RU./Path  ", "https://a.ru/Path"),
        ("https://user:secret@www.a.ru/", "https://a.ru/"),
        ("https://тест.рф/страница", "https://xn--e1aybc.xn--p1ai/страница"),
        ("https://www.ТЕСТ.РФ", "https://xn--e1aybc.xn--p1ai/"),
        ("a.ru:8080/x", "https://a.ru:8080/x"),
        ("https://www.ru/", "https://www.ru/"),
    ],
)
def test_normalize_url(url, expected):
    assert normalize_url(url) == expected


def test_normalize_url_is_idempotent():
    for url in ["HTTP://WWW.test.ru/path//", "https://a.ru:8080/x/?q=1#frag", "тест.рф", "example.com"]:
        once = normalize_url(url)
        assert normalize_url(once) == once


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "mailto:a@b.ru",
        "javascript:alert(1)",
        "ftp://a.ru/x",
        "https://a.ru:99999/",
        "https:///x",
        "http://a..ru/",
    ],
)
def test_normalize_url_refuses_what_is_no_http_url(url):
    with pytest.raises(InvalidURL):
        normalize_url(url)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("example.com", "example.com"),
        ("WWW.Example.COM", "example.com"),
        ("https://www.example.com:8080/path?q=1", "example.com"),
        ("www.example.com/path", "example.com"),
        ("тест.рф", "xn--e1aybc.xn--p1ai"),
        ("https://www.тест.рф/", "xn--e1aybc.xn--p1ai"),
        ("xn--e1aybc.xn--p1ai", "xn--e1aybc.xn--p1ai"),
        ("support.avito.ru", "support.avito.ru"),
        ("example.com.", "example.com"),
    ],
)
def test_canonical_domain(value, expected):
    assert canonical_domain(value) == expected
    assert registrable_domain(value) == expected


@pytest.mark.parametrize(
    "domain, blocked",
    [
        ("avito.ru", True),
        ("support.avito.ru", True),
        ("a.b.avito.ru", True),
        ("notavito.ru", False),
        ("avito.ru.evil.com", False),
        ("example.com", False),
        ("xn--e1aybc.xn--p1ai", True),
        ("тест.рф", True),
        ("", False),
    ],
)
def test_is_blocked(domain, blocked):
    assert is_blocked(domain, canonical_set(["avito.ru", "WWW.Тест.рф", "not a domain/"])) is blocked


def test_canonical_set_drops_what_is_no_domain():
    assert canonical_set(["www.Avito.ru", "", "hh.ru"]) == {"avito.ru", "hh.ru"}
