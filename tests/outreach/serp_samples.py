"""Synthetic Yandex Search XML answers (the shape of a deferred operation's rawData), for tests and benches.

`title` and `passages` are XML fragments, so `<hlword>` marks can be written in
them; plain text goes through `esc`.
"""

import base64
import random
import zlib
from xml.sax.saxutils import escape, quoteattr


def esc(text: str) -> str:
    return escape(text)


def doc_xml(
    url: str,
    *,
    domain: str | None = None,
    title: str = "",
    passages: tuple[str, ...] | list[str] = (),
    lang: str | None = "ru",
    headline: str | None = None,
) -> str:
    if domain is None:
        domain = url.split("://", 1)[-1].split("/", 1)[0]
    parts = [f"<url>{esc(url)}</url>", f"<domain>{esc(domain)}</domain>", f"<title>{title}</title>"]
    if headline is not None:
        parts.append(f"<headline>{headline}</headline>")
    if passages:
        parts.append("<passages>" + "".join(f"<passage>{p}</passage>" for p in passages) + "</passages>")
    props = f"<lang>{esc(lang)}</lang>" if lang is not None else ""
    parts.append(f"<properties>{props}</properties>")
    return '<doc id="' + str(zlib.crc32(url.encode())) + '">' + "".join(parts) + "</doc>"


def serp_xml(
    docs=(), *, query: str = "стоматология москва", first: int = 1, error: tuple[str, str] | None = None
) -> bytes:
    """A whole answer: `docs` are doc_xml() strings (or URLs), or `error=(code, message)` instead of results."""
    head = f'<?xml version="1.0" encoding="utf-8"?>\n<yandexsearch version="1.0"><request><query>{esc(query)}</query>'
    head += '<page>0</page><sortby order="descending" priority="no">rlv</sortby></request>'
    if error is not None:
        code, message = error
        body = f"<response><error code={quoteattr(code)}>{esc(message)}</error></response>"
    else:
        docs = [d if d.lstrip().startswith("<doc") else doc_xml(d) for d in docs]
        groups = "".join(
            f'<group><categ attr="d" name="g{i}"/><doccount>1</doccount>{d}</group>' for i, d in enumerate(docs)
        )
        body = (
            '<response date="20250101T000000"><reqid>synthetic</reqid><found priority="all">'
            f'{len(docs)}</found><results><grouping attr="d" mode="deep" groups-on-page="100" docs-in-group="1">'
            f'<found priority="all">{len(docs)}</found><page first="{first}" last="{first + len(docs) - 1}">0</page>'
            f"{groups}</grouping></results></response>"
        )
    return (head + body + "</yandexsearch>").encode("utf-8")


def b64(xml: bytes) -> str:
    return base64.b64encode(xml).decode("ascii")


WORDS = ["стоматология", "клиника", "лечение", "зубов", "имплантация", "цены", "отзывы", "врачи", "москва", "центр"]


def synthetic_serp(n: int = 100, *, seed: int = 0, domains: int = 50_000, query: str | None = None) -> bytes:
    """`n` results on domains drawn from a pool of `domains` (so answers overlap), with hlwords and passages."""
    rnd = random.Random(seed)
    docs = []
    for i in range(n):
        d = rnd.randrange(domains)
        host = f"www.clinic-{d}.ru" if d % 3 else f"clinic-{d}.ru"
        url = f"https://{host}/services/{rnd.randrange(1000)}/" if i % 2 else f"http://{host}"
        w = rnd.sample(WORDS, 4)
        docs.append(
            doc_xml(
                url,
                title=f"{w[0].capitalize()} <hlword>{w[1]}</hlword> «Клиника {d}»",
                passages=[f"{w[2]} <hlword>{w[3]}</hlword> &amp; {w[0]} в городе", f"Запись: +7 495 {d:07d}"],
            )
        )
    return serp_xml(docs, query=query or f"стоматология {seed}")
