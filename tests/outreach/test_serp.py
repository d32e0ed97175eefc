import base64

import pytest

from outreach.serp import SerpDoc, SerpParseError, SerpYandexError, decode_raw_data, parse_serp, parse_serp_page
from tests.outreach.serp_samples import b64, doc_xml, serp_xml, synthetic_serp


def test_documents_in_rank_order_with_title_snippet_and_language():
    xml = serp_xml(
        [
            doc_xml(
                "https://www.dent.ru/",
                title="Лучшая <hlword>стоматология</hlword> в городе",
                passages=["Лечение <hlword>зубов</hlword> без боли", "Запись онлайн"],
            ),
            doc_xml("https://b.ru/x", title="Второй", passages=[], lang="en"),
        ]
    )
    assert parse_serp(xml) == [
        SerpDoc(
            url="https://www.dent.ru/",
            domain="www.dent.ru",
            title="Лучшая стоматология в городе",
            snippet="Лечение зубов без боли Запись онлайн",
            position=1,
            language="ru",
        ),
        SerpDoc(url="https://b.ru/x", domain="b.ru", title="Второй", snippet="", position=2, language="en"),
    ]


@pytest.mark.parametrize(
    "title, expected",
    [
        ("Лучшая <hlword>стоматология</hlword> в городе", "Лучшая стоматология в городе"),
        ("<hlword>Стоматология</hlword>", "Стоматология"),
        ("<hlword>Зубы</hlword> и <hlword>десны</hlword>", "Зубы и десны"),
        ("Клиника &amp; <hlword>центр</hlword>\n  на   Арбате", "Клиника & центр на Арбате"),
        ("", ""),
    ],
)
def test_hlword_text_is_kept(title, expected):
    (doc,) = parse_serp(serp_xml([doc_xml("https://a.ru/", title=title, passages=[title] if title else [])]))
    assert doc.title == expected
    assert doc.snippet == expected


def test_headline_when_there_are_no_passages_and_missing_parts():
    (doc,) = parse_serp(serp_xml([doc_xml("https://a.ru/", headline="Про <hlword>нас</hlword>", lang=None)]))
    assert (doc.snippet, doc.language) == ("Про нас", "")


def test_positions_follow_the_page_offset_and_docs_without_url_are_skipped():
    docs = [doc_xml("https://a.ru/"), "<doc><title>no url</title></doc>", doc_xml("https://c.ru/")]
    page = parse_serp_page(serp_xml(docs, first=11, query="окна пвх"))
    assert page.query == "окна пвх"
    assert [(d.url, d.position) for d in page.docs] == [("https://a.ru/", 11), ("https://c.ru/", 13)]


def test_nothing_found_is_no_results():
    assert parse_serp(serp_xml(error=("15", "Sorry, there are no results for this search"))) == []


def test_other_yandex_errors_raise():
    with pytest.raises(SerpYandexError, match="Yandex error 55") as caught:
        parse_serp(serp_xml(error=("55", "Too many requests")))
    assert isinstance(caught.value, SerpParseError)
    assert caught.value.code == "55"


@pytest.mark.parametrize(
    "xml, message",
    [
        (b"<yandexsearch><response><results>", "malformed XML"),
        (b"not xml at all", "malformed XML"),
        (b"", "malformed XML"),
        (b"<yandexsearch><response><results></response></yandexsearch>", "malformed XML"),
        (b"<html><body>502 Bad Gateway</body></html>", "not a Yandex XML answer"),
        (b"<yandexsearch><request/></yandexsearch>", "no <response>"),
        (b"<yandexsearch><response><results>&nbsp;</results></response></yandexsearch>", "malformed XML"),
    ],
)
def test_broken_xml_raises_a_parse_error(xml, message):
    with pytest.raises(SerpParseError, match=message):
        parse_serp(xml)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<yandexsearch><response><results><grouping><group><doc><url>https://a.ru/</url>
<title>&lol9;</title></doc></group></grouping></results></response></yandexsearch>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE y [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<yandexsearch><response><results><grouping><group><doc><url>https://a.ru/</url>
<title>&xxe;</title></doc></group></grouping></results></response></yandexsearch>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE yandexsearch SYSTEM "http://127.0.0.1:9/evil.dtd">
<yandexsearch><response/></yandexsearch>"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD], ids=["bomb", "xxe", "external-dtd"])
def test_doctype_and_entities_are_refused(xml):
    with pytest.raises(SerpParseError, match="refused XML"):
        parse_serp(xml)


def test_decode_raw_data_round_trip_and_line_wrapped_base64():
    xml = synthetic_serp(5)
    assert decode_raw_data(b64(xml)) == xml
    assert decode_raw_data(base64.encodebytes(xml).decode()) == xml
    assert len(parse_serp(decode_raw_data(b64(xml)))) == 5


@pytest.mark.parametrize(
    "raw, message",
    [
        ("@@not base64@@", "not valid base64"),
        ("abc", "not valid base64"),
        ("ключ", "not valid base64"),
        ("", "empty"),
        ("  \n", "empty"),
        (None, "no rawData"),
    ],
)
def test_decode_raw_data_errors_are_clear(raw, message):
    with pytest.raises(SerpParseError, match=message):
        decode_raw_data(raw)


def test_str_input_and_a_cp1251_declaration():
    xml = serp_xml([doc_xml("https://a.ru/", title="Окна")]).decode()
    assert parse_serp(xml)[0].title == "Окна"
    cp1251 = xml.replace('encoding="utf-8"', 'encoding="windows-1251"').encode("cp1251")
    assert parse_serp(cp1251)[0].title == "Окна"
