"""E-mail extraction, ranking and the homepage excerpt: pure functions, table tests."""

import pytest

from outreach.extract import (
    SCORE_ATTRIBUTE,
    SCORE_MAILTO,
    SCORE_TEXT,
    ScoredEmail,
    clean_email,
    decode_cfemail,
    deobfuscate,
    extract_emails,
    extract_with_rejections,
    junk_reason,
    pick_primary,
    visible_text_excerpt,
)
from tests.emulators.sites import cfemail


def primary_of(html, base_domain=None):
    primary, _ = pick_primary(extract_emails(html, base_domain=base_domain), base_domain=base_domain)
    return primary.email if primary else None


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        # the cases named in the issue
        ('<a href="mailto:sales@example.com">Write</a><p>info@example.com</p>', "sales@example.com"),
        ('<a href="mailto:+74951234567">Call us</a>', None),
        ("<p>Связь: %20info@jurint.pro</p>", "info@jurint.pro"),
        ('<a href="mailto:HELLO@site.com">Mail</a><p>Sales@site.com</p>', "hello@site.com"),
        ("<h1>Мебель</h1><p>Телефон +7 495 000-00-00</p>", None),
        ("<p>info [at] obf-site [dot] ru</p>", "info@obf-site.ru"),
        (f'<span data-cfemail="{cfemail("cf@example.com")}">[email&#160;protected]</span>', "cf@example.com"),
        ('<img src="/i/logo@2x.png">', None),
        # more
        ('<a href="mailto:%20info@jurint.pro?subject=Hi">x</a>', "info@jurint.pro"),
        ('<a href="MAILTO:Boss@Example.com">x</a>', "boss@example.com"),
        ('<a href="mailto:a@example.com,b@example.com">x</a>', "a@example.com"),
        ('<a href="/cdn-cgi/l/email-protection#' + cfemail("link@example.com", 0x11) + '">x</a>', "link@example.com"),
        ('<div data-email="attr@example.com"></div><p>text@example.com</p>', "attr@example.com"),
        ('<script type="application/ld+json">{"email": "ld@example.com"}</script>', "ld@example.com"),
        ('<script>var e = "script@example.com";</script>', None),
        ("<style>/* css@example.com */</style>", None),
        ('<iframe src="/map"/><p>after@example.com</p>', "after@example.com"),
        ("<svg/><p>after@example.com</p>", "after@example.com"),
        ("<p>mail(at)x(dot)ru</p>", "mail@x.ru"),
        ("<p>mail{at}x{dot}ru</p>", "mail@x.ru"),
        ("<p>INFO [AT] EXAMPLE [DOT] COM</p>", "info@example.com"),
        ("<p>почта: zakaz [собака] mebel [точка] ru</p>", "zakaz@mebel.ru"),
        ("<p>john at example dot com</p>", "john@example.com"),
        ("<p>We are at example.com, come in</p>", None),
        ("<p>office @ example.com</p>", "office@example.com"),
        ("<p>info&#64;example.com</p>", "info@example.com"),
        ("<p>Пишите:info@example.com.</p>", "info@example.com"),
        ("<p>Email: <b>team</b>@example.com</p>", "team@example.com"),
        ("<p>\\u003einfo@site.ru</p>", "info@site.ru"),
        ("<p>u003einfo@site.ru</p>", None),
        ("<p>0123456789abcdef0123456789abcdef@o12.ingest.sentry.io</p>", None),
        ("<p>user@sentry.wixpress.com</p>", None),
        ("<p>noreply@example.com</p>", None),
        ("<p>name@domain.com</p>", None),
        ('<input type="email" placeholder="ivanov@mail.ru">', None),
        ("<p>your@company.ru or example@mail.ru</p>", None),
        ("<p>bg@image.jpg and style@main.css</p>", None),
        ("<p>a..b@example.com</p>", None),
        ("<p>info@пример.рф</p>", "info@xn--e1afmkfd.xn--p1ai"),
        ("<p>no address here @ all</p>", None),
        ("", None),
        ("<p><unclosed <a href='mailto:broken@example.com'", "broken@example.com"),  # broken markup: no crash
    ],
)
def test_it_extracts_the_primary_address(html, expected):
    assert primary_of(html) == expected


@pytest.mark.parametrize(
    ("html", "email", "score", "source"),
    [
        ('<a href="mailto:m@example.com">m@example.com</a>', "m@example.com", SCORE_MAILTO, "mailto"),
        ('<input value="a@example.com">', "a@example.com", SCORE_ATTRIBUTE, "attribute"),
        ("<p>t@example.com</p>", "t@example.com", SCORE_TEXT, "text"),
        (f'<span data-cfemail="{cfemail("c@example.com")}"></span>', "c@example.com", SCORE_TEXT, "text"),
    ],
)
def test_it_scores_by_where_the_address_was_found(html, email, score, source):
    assert extract_emails(html) == [ScoredEmail(email, score, source)]


def test_it_keeps_the_best_score_of_an_address_found_twice():
    html = '<p>info@example.com</p><a href="mailto:info@example.com">x</a><p>INFO@example.com</p>'
    assert extract_emails(html) == [ScoredEmail("info@example.com", 1.0, "mailto")]


def test_it_says_why_candidates_were_rejected():
    extraction = extract_with_rejections(
        '<img src="logo@2x.png"><a href="mailto:+74951234567">x</a><p>u003einfo@site.ru noreply@example.com</p>'
    )
    assert extraction.emails == []
    assert dict(extraction.rejected) == {
        "logo@2x.png": "file name",
        "+74951234567": "syntax",
        "u003einfo@site.ru": "escape residue",
        "noreply@example.com": "no-reply mailbox",
    }


def test_it_keeps_the_others_as_secondary_best_first():
    emails = extract_emails(
        '<p>a@partner.example, jobs@example.com, info@example.com</p><a href="mailto:boss@example.com">x</a>'
    )
    primary, secondary = pick_primary(emails, base_domain="example.com")
    assert primary.email == "boss@example.com"
    assert [e.email for e in secondary] == ["info@example.com", "jobs@example.com", "a@partner.example"]


@pytest.mark.parametrize(
    ("emails", "base_domain", "expected"),
    [
        (["zed@other.example", "anna@example.com"], "example.com", "anna@example.com"),  # own domain
        (["zed@other.example", "anna@shop.example.com"], "example.com", "anna@shop.example.com"),
        (["anna@example.com", "info@example.com"], None, "info@example.com"),  # role address
        (["info@example.com", "sales@example.com"], None, "sales@example.com"),  # ROLE_ORDER
        (["hr@example.com", "anna@example.com"], None, "anna@example.com"),  # low roles last
        (["b@example.com", "a@example.com"], None, "b@example.com"),  # then first seen
    ],
)
def test_it_breaks_score_ties(emails, base_domain, expected):
    primary, secondary = pick_primary([ScoredEmail(e, SCORE_TEXT, "text") for e in emails], base_domain=base_domain)
    assert primary.email == expected
    assert len(secondary) == len(emails) - 1


def test_it_picks_nothing_from_nothing():
    assert pick_primary([]) == (None, [])


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>Привет\u0000 мир\u0008!</p>", "Привет мир!"),
        ("<p>Привет\u200b мир\ufeff!</p>", "Привет мир!"),
        ("<p>one</p><p>two</p>", "one two"),
        ("<div>a<br>b</div>", "a b"),
        ("<title>Title</title><script>var x=1;</script><style>p{}</style><noscript>js</noscript><p>body</p>", "body"),
        ("<p>&amp; &lt;b&gt; &#0;</p>", "& <b>"),
        ("<p>  lots \n\t of   space  </p>", "lots of space"),
    ],
)
def test_the_excerpt_is_clean_visible_text(html, expected):
    assert visible_text_excerpt(html) == expected


def test_the_excerpt_is_capped_at_a_word_boundary():
    excerpt = visible_text_excerpt("<p>" + "слово " * 1000 + "</p>", limit=100)
    assert len(excerpt) <= 100
    assert excerpt.endswith("слово")


def test_the_excerpt_cuts_a_single_long_word():
    assert visible_text_excerpt("<p>" + "x" * 500 + "</p>", limit=50) == "x" * 50


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("info[at]example[dot]com", "info@example.com"),
        ("info (at) example (dot) com", "info@example.com"),
        ("%20info@jurint.pro", " info@jurint.pro"),
        ("\\u003einfo@site.ru", ">info@site.ru"),
        ("https:\\/\\/example.com", "https://example.com"),
        ("meet us at noon", "meet us at noon"),
    ],
)
def test_deobfuscate(raw, expected):
    assert deobfuscate(raw) == expected


def test_cfemail_round_trip_and_garbage():
    assert decode_cfemail(cfemail("x@example.com", 0x42)) == "x@example.com"
    assert decode_cfemail("zz") is None
    assert decode_cfemail("42") is None


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("logo@2x.png", "file name"),
        ("u003einfo@site.ru", "escape residue"),
        ("x3cinfo@site.ru", "escape residue"),
        ("0123456789abcdef01@example.com", "hash"),
        ("a@o1.ingest.sentry.io", "tracking or placeholder domain"),
        ("no-reply@example.com", "no-reply mailbox"),
        ("example@mail.ru", "placeholder"),
        ("xavier@example.com", None),
        ("info@example.com", None),
    ],
)
def test_junk_reason(email, reason):
    assert junk_reason(email) == reason


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (" Info@Example.COM ", "info@example.com"),
        ("+74951234567", None),
        ("a@b", None),
        ("a@-b.com", None),
        ("x" * 70 + "@example.com", None),
    ],
)
def test_clean_email(candidate, expected):
    assert clean_email(candidate)[0] == expected


@pytest.mark.parametrize(
    "html",
    [
        "a@" + "b-" * 100_000,
        "a@" + "b." * 100_000 + "1",
        "x." * 100_000 + "@y",
        " " * 200_000 + "@" + " " * 200_000,
        "a at " + "b dot " * 50_000,
        "[" + " " * 200_000 + "at",
        "<p>" + "info [at] " * 50_000 + "</p>",
    ],
    ids=["hyphens", "dots", "local-dots", "spaces", "words", "bracket", "repeats"],
)
def test_long_hostile_input_is_linear_not_a_hang(html):
    # No clock here: a quadratic regex would take minutes and hit pytest's timeout.
    extract_emails(html)
    visible_text_excerpt(html)
