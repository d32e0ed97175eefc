"""Yandex Search XML (the base64 `rawData` of a deferred operation) into result documents.

The shape read here:

    <yandexsearch version="1.0">
      <request><query>стоматология москва</query>...</request>
      <response>
        <results><grouping ...><page first="1" last="100">0</page>
          <group><doc>
            <url>https://www.example.ru/</url><domain>www.example.ru</domain>
            <title>Лучшая <hlword>стоматология</hlword> в городе</title>
            <headline>...</headline>
            <passages><passage>...</passage></passages>
            <properties><lang>ru</lang></properties>
          </doc></group>
        </grouping></results>
      </response>
    </yandexsearch>

`<response><error code="15">` is Yandex's "nothing found": no documents, not a failure;
any other error code raises. Titles and passages keep the text of nested `<hlword>`
(itertext). The parser is defusedxml with DTDs forbidden: no DOCTYPE, no entity
declarations (billion laughs, external entities), nothing fetched from the network.

This module only reads: URLs and domains come out as Yandex wrote them, and
outreach.services.ingest normalises them.
"""

import base64
import binascii
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

import defusedxml
from defusedxml.ElementTree import fromstring

NOTHING_FOUND = "15"


class SerpParseError(ValueError):
    """The operation's rawData is not a Yandex XML answer we can read."""


class SerpYandexError(SerpParseError):
    """Yandex answered with an error other than "nothing found"."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(f"Yandex error {code}: {message}" if message else f"Yandex error {code}")


@dataclass(frozen=True, slots=True)
class SerpDoc:
    url: str
    domain: str
    title: str
    snippet: str
    position: int  # 1-based rank in the whole result list (page offsets included)
    language: str


@dataclass(frozen=True, slots=True)
class SerpPage:
    query: str  # <request><query>, "" when the answer does not repeat it
    docs: list[SerpDoc]


def decode_raw_data(b64: str | bytes) -> bytes:
    """The XML bytes inside a deferred operation's `rawData`; SerpParseError when it is no base64."""
    if b64 is None:
        raise SerpParseError("operation has no rawData")
    if isinstance(b64, str):
        try:
            b64 = b64.encode("ascii")
        except UnicodeEncodeError as exc:
            raise SerpParseError(f"rawData is not valid base64: non-ASCII character at {exc.start}") from None
    compact = b"".join(b64.split())  # line-wrapped base64 is still base64
    if not compact:
        raise SerpParseError("rawData is empty")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SerpParseError(f"rawData is not valid base64: {exc}") from None


def _text(element: Element | None) -> str:
    """All the text under `element` (nested <hlword> included), whitespace collapsed."""
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())


def parse_serp_page(xml_bytes: bytes | str) -> SerpPage:
    """The query and the documents of one Yandex XML answer, in rank order."""
    if isinstance(xml_bytes, str):
        xml_bytes = xml_bytes.encode("utf-8")
    if not xml_bytes or not xml_bytes.strip():
        raise SerpParseError("malformed XML: empty document")
    try:
        root = fromstring(xml_bytes, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except ParseError as exc:
        raise SerpParseError(f"malformed XML: {exc}") from None
    except defusedxml.DTDForbidden:
        raise SerpParseError("refused XML: a DOCTYPE/DTD is not allowed") from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        raise SerpParseError("refused XML: entity declarations and external references are not allowed") from None
    if root.tag != "yandexsearch":
        raise SerpParseError(f"not a Yandex XML answer: root element <{root.tag}>, expected <yandexsearch>")
    query = _text(root.find("request/query"))
    response = root.find("response")
    if response is None:
        raise SerpParseError("not a Yandex XML answer: no <response>")
    error = response.find("error")
    if error is not None:
        code = (error.get("code") or "").strip()
        if code == NOTHING_FOUND:
            return SerpPage(query=query, docs=[])
        raise SerpYandexError(code or "?", _text(error))
    docs = []
    position = 0
    for grouping in response.iterfind("results/grouping"):
        page = grouping.find("page")
        first = page.get("first") if page is not None else None
        if first and first.isdigit() and int(first) > 0:
            position = max(position, int(first) - 1)
        for doc in grouping.iterfind("group/doc"):
            position += 1
            url = _text(doc.find("url"))
            if not url:
                continue
            passages = [_text(p) for p in doc.iterfind("passages/passage")]
            snippet = " ".join(p for p in passages if p) or _text(doc.find("headline"))
            docs.append(
                SerpDoc(
                    url=url,
                    domain=_text(doc.find("domain")),
                    title=_text(doc.find("title")),
                    snippet=snippet,
                    position=position,
                    language=_text(doc.find("properties/lang")),
                )
            )
    return SerpPage(query=query, docs=docs)


def parse_serp(xml_bytes: bytes | str) -> list[SerpDoc]:
    """The documents of one Yandex XML answer (see parse_serp_page); raises SerpParseError."""
    return parse_serp_page(xml_bytes).docs
