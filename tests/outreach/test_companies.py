"""Ingest of SERP answers into results and companies, the file import, and deduplication."""

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from outreach.models import BlockedDomain, Company, SearchBatchLog, SerpOperation, SerpQuery, SerpResult
from outreach.serp import SerpParseError
from outreach.services.companies import dedupe, dedupe_key, homepage_url
from outreach.services.ingest import import_serp_file, ingest_operation
from tests.outreach.serp_samples import b64, doc_xml, serp_xml, synthetic_serp

pytestmark = pytest.mark.django_db


def make_operation(op_id="op-1", text="стоматология москва", lr=213):
    query = SerpQuery.objects.create(
        text=text,
        lr=lr,
        hash=f"{op_id:0>40}"[-40:],
        status=SerpQuery.Status.IN_PROGRESS,
        scheduled_for=timezone.now(),
    )
    return SerpOperation.objects.create(query=query, operation_id=op_id)


ANSWER = serp_xml(
    [
        doc_xml(
            "https://WWW.Dent-Clinic.ru/uslugi/implant/?utm=1#top",
            title="Лучшая <hlword>стоматология</hlword> в городе",
            passages=["Имплантация <hlword>зубов</hlword>"],
        ),
        doc_xml("https://support.avito.ru/articles/1", title="Avito"),
        doc_xml("https://www.avito.ru/moskva/uslugi", title="Avito"),
        doc_xml("https://тест.рф/", title="Тест <hlword>клиника</hlword>"),
        doc_xml("https://dent-clinic.ru/contacts/", title="Контакты"),
        doc_xml("mailto:info@a.ru", title="not a web page"),
        doc_xml("https://www.dent-clinic.ru/uslugi/implant?utm=1", title="the first URL again"),
    ]
)


@pytest.mark.parametrize(
    "a, b, equal",
    [
        (("Test", "example.com"), ("Другое имя", "example.com"), True),
        (("Test", "www.example.com"), ("Test", "example.com"), True),
        (("Test", "EXAMPLE.com"), ("", "example.com"), True),
        (("Тест", "тест.рф"), ("", "xn--e1aybc.xn--p1ai"), True),
        (("Клиника  Зубы", ""), ("клиника зубы", ""), True),
        (("Test", "example.com"), ("Test", "example.org"), False),
        (("Test", ""), ("Другое", ""), False),
    ],
)
def test_dedupe_key(a, b, equal):
    assert (dedupe_key(*a) == dedupe_key(*b)) is equal
    assert len(dedupe_key(*a)) == 40


def test_dedupe_key_of_nothing_is_empty():
    assert dedupe_key("", "") == ""


def test_ingest_writes_results_and_companies():
    operation = make_operation()
    result = ingest_operation(operation=operation, raw_data=b64(ANSWER))

    assert result.status == "done" and result.error == ""
    assert (result.docs, result.results, result.blocked, result.invalid) == (7, 3, 2, 1)
    assert (result.companies_created, result.companies_updated) == (2, 0)
    rows = {r.url: r for r in SerpResult.objects.filter(operation=operation)}
    assert set(rows) == {
        "https://dent-clinic.ru/uslugi/implant?utm=1",
        "https://xn--e1aybc.xn--p1ai/",
        "https://dent-clinic.ru/contacts",
    }
    first = rows["https://dent-clinic.ru/uslugi/implant?utm=1"]
    assert (first.position, first.domain, first.language) == (1, "dent-clinic.ru", "ru")
    assert first.title == "Лучшая стоматология в городе"
    assert first.snippet == "Имплантация зубов"
    assert rows["https://xn--e1aybc.xn--p1ai/"].position == 4

    dent = Company.objects.get(canonical_domain="dent-clinic.ru")
    assert dent.name == "Лучшая стоматология в городе"
    assert dent.website_url == "https://dent-clinic.ru/" == homepage_url("dent-clinic.ru")
    assert dent.dedupe_hash == dedupe_key("anything", "dent-clinic.ru")
    assert dent.source == "yandex_serp" and dent.status == Company.Status.NEW
    assert dent.attributes["serp"]["url"] == "https://dent-clinic.ru/uslugi/implant?utm=1"
    assert {r.company_id for r in rows.values() if r.domain == "dent-clinic.ru"} == {dent.pk}
    assert Company.objects.get(canonical_domain="xn--e1aybc.xn--p1ai").name == "Тест клиника"
    assert not Company.objects.filter(canonical_domain__contains="avito").exists()

    operation.refresh_from_db()
    assert operation.status == SerpOperation.Status.DONE and operation.completed_at
    assert operation.query.status == SerpQuery.Status.COMPLETED


def test_ingest_again_adds_nothing_and_keeps_the_name():
    operation = make_operation()
    ingest_operation(operation=operation, raw_data=b64(ANSWER))
    Company.objects.filter(canonical_domain="dent-clinic.ru").update(name="ООО Дент")
    again = ingest_operation(operation=operation, raw_data=b64(ANSWER))
    assert (again.results, again.companies_created, again.companies_updated) == (0, 0, 2)
    assert SerpResult.objects.count() == 3 and Company.objects.count() == 2
    assert Company.objects.get(canonical_domain="dent-clinic.ru").name == "ООО Дент"

    other = make_operation("op-2")
    result = ingest_operation(operation=other, raw_data=b64(ANSWER))
    assert (result.results, result.companies_created, result.companies_updated) == (3, 0, 2)
    assert Company.objects.count() == 2


def test_blocked_domains_from_the_table_include_subdomains():
    BlockedDomain.objects.create(domain="WWW.Dent-Clinic.ru")
    result = ingest_operation(operation=make_operation(), raw_data=b64(ANSWER))
    assert (result.results, result.blocked) == (1, 5)  # dent-clinic.ru three times, avito twice
    assert list(Company.objects.values_list("canonical_domain", flat=True)) == ["xn--e1aybc.xn--p1ai"]


def test_an_operation_without_raw_data_fails_that_operation_only():
    empty, good = make_operation("op-empty"), make_operation("op-good")
    failed = ingest_operation(operation=empty, raw_data=None)
    done = ingest_operation(operation=good, raw_data=b64(ANSWER))

    assert (failed.status, failed.error) == ("failed", "operation has no rawData")
    assert done.status == "done"
    empty.refresh_from_db()
    good.refresh_from_db()
    assert empty.status == SerpOperation.Status.FAILED
    assert empty.error_payload == {"message": "operation has no rawData"}
    assert empty.query.status == SerpQuery.Status.FAILED and empty.query.last_error == "operation has no rawData"
    assert good.status == SerpOperation.Status.DONE and good.query.status == SerpQuery.Status.COMPLETED
    assert not SerpResult.objects.filter(operation=empty).exists()


@pytest.mark.parametrize(
    "raw, message",
    [
        ("", "operation has no rawData"),
        ("%%%", "not valid base64"),
        (b64(b"<yandexsearch><response><results>"), "malformed XML"),
        (b64(b'<!DOCTYPE x [<!ENTITY a "b">]><yandexsearch/>'), "refused XML"),
        (b64(serp_xml(error=("55", "limit"))), "Yandex error 55"),
    ],
)
def test_unreadable_answers_fail_the_operation_and_write_nothing(raw, message):
    operation = make_operation()
    result = ingest_operation(operation=operation, raw_data=raw)
    assert result.status == "failed" and message in result.error
    operation.refresh_from_db()
    assert operation.status == SerpOperation.Status.FAILED and message in operation.error_payload["message"]
    assert not SerpResult.objects.exists() and not Company.objects.exists()


def test_nothing_found_completes_the_query():
    operation = make_operation()
    result = ingest_operation(operation=operation, raw_data=b64(serp_xml(error=("15", "no results"))))
    assert (result.status, result.docs, result.results) == ("done", 0, 0)
    operation.refresh_from_db()
    assert operation.query.status == SerpQuery.Status.COMPLETED


def test_a_failure_does_not_undo_a_completed_query():
    first = make_operation("op-a")
    second = SerpOperation.objects.create(query=first.query, operation_id="op-b")
    ingest_operation(operation=first, raw_data=b64(ANSWER))
    ingest_operation(operation=second, raw_data=None)
    assert SerpQuery.objects.get().status == SerpQuery.Status.COMPLETED


@pytest.mark.parametrize("form", ["xml", "base64", "json"])
def test_import_serp_file(tmp_path, form):
    xml = serp_xml([doc_xml("https://a.ru/x/", title="A"), doc_xml("https://b.ru/", title="B")], query="окна пвх")
    content = {
        "xml": xml,
        "base64": base64.encodebytes(xml),
        "json": json.dumps({"done": True, "response": {"rawData": b64(xml)}}).encode(),
    }[form]
    path = tmp_path / "serp.xml"
    path.write_bytes(content)

    result = import_serp_file(path=path)
    assert (result.status, result.results, result.companies_created) == ("done", 2, 2)
    operation = SerpOperation.objects.get()
    assert operation.operation_id.startswith("import-") and len(operation.operation_id) == 47
    assert operation.status == SerpOperation.Status.DONE
    assert (operation.query.text, operation.query.lr, operation.query.status) == ("окна пвх", 225, "completed")

    again = import_serp_file(path=str(path))
    assert (again.operation_id, again.results, again.companies_created) == (result.operation_id, 0, 0)
    assert (SerpOperation.objects.count(), SerpQuery.objects.count(), SerpResult.objects.count()) == (1, 1, 2)


def test_import_uses_the_given_or_known_query(tmp_path):
    known = make_operation("op-known", text="окна пвх", lr=2).query
    (tmp_path / "a.xml").write_bytes(synthetic_serp(3, seed=1))
    (tmp_path / "b.xml").write_bytes(synthetic_serp(3, seed=2))
    assert import_serp_file(path=tmp_path / "a.xml", query_text="окна пвх").status == "done"
    assert SerpOperation.objects.get(operation_id__startswith="import-").query == known
    import_serp_file(path=tmp_path / "b.xml", query_text="двери")
    query = SerpQuery.objects.get(text="двери")
    assert query.lr == 225 and query.status == SerpQuery.Status.COMPLETED


def test_import_of_an_unreadable_file_raises_and_writes_nothing(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_bytes(b"<yandexsearch><response>")
    with pytest.raises(SerpParseError, match="malformed XML"):
        import_serp_file(path=path)
    with pytest.raises(FileNotFoundError):
        import_serp_file(path=tmp_path / "missing.xml")
    assert not SerpOperation.objects.exists() and not SerpQuery.objects.exists()


def company(domain, name="", *, age_days=0, **fields):
    created = timezone.now() - timedelta(days=age_days)
    return Company.objects.create(name=name, canonical_domain=domain, created_at=created, **fields)


def test_dedupe_marks_later_companies_of_one_domain():
    old = company("x.ru", "Икс", age_days=3)
    www = company("www.x.ru", "Икс (сайт)", age_days=2)
    upper = company("WWW.X.RU.", "X", age_days=1)
    other = company("y.ru", "Игрек")

    counts = dedupe()
    assert counts["examined"] == 4 and counts["duplicates"] == 2 and counts["groups"] == 1
    for c in (old, www, upper, other):
        c.refresh_from_db()
    assert (old.status, old.primary_id, old.opt_out) == ("new", None, False)
    for dup in (www, upper):
        assert (dup.status, dup.primary_id, dup.opt_out) == ("duplicate", old.pk, True)
        assert dup.dedupe_hash == old.dedupe_hash == dedupe_key("", "x.ru")
    assert other.status == "new" and other.dedupe_hash == dedupe_key("", "y.ru")

    log = SearchBatchLog.objects.get(kind="dedupe")
    assert log.finished_at and log.counts["duplicates"] == 2
    assert dedupe()["duplicates"] == 0  # nothing new


def test_dedupe_is_incremental():
    old = company("x.ru", age_days=30)
    company("y.ru", age_days=30)
    dedupe()
    Company.objects.update(updated_at=timezone.now() - timedelta(days=1))  # long before the next run
    SearchBatchLog.objects.update(started_at=timezone.now() - timedelta(hours=1))

    late = company("www.x.ru", age_days=0)
    counts = dedupe()
    assert counts["examined"] == 1 and counts["duplicates"] == 1  # the old primary came with its group
    late.refresh_from_db()
    assert late.primary_id == old.pk
    assert dedupe(since=timezone.now() - timedelta(days=2))["examined"] == 3


def test_a_company_that_leaves_its_group_is_restored_but_a_manual_duplicate_is_not():
    old = company("x.ru", age_days=3)
    opted = company("www.x.ru", age_days=2, opt_out=True)
    manual = company("z.ru", age_days=1, status=Company.Status.DUPLICATE, opt_out=True)
    dedupe()
    opted.refresh_from_db()
    assert opted.status == "duplicate" and opted.primary_id == old.pk

    old.canonical_domain = "x-old.ru"  # the primary moves away: the duplicate is the oldest of x.ru now
    old.save()
    counts = dedupe()
    assert counts["restored"] == 1
    opted.refresh_from_db()
    manual.refresh_from_db()
    assert (opted.status, opted.primary_id, opted.opt_out) == ("new", None, True)  # opted out before dedupe
    assert "dedupe" not in opted.attributes
    assert (manual.status, manual.opt_out) == ("duplicate", True)


@pytest.mark.parametrize(
    ("domain", "result_url", "homepage"),
    [
        ("127.0.0.2", "http://127.0.0.2:8094/catalog", "http://127.0.0.2:8094/"),
        ("shop.example", "http://shop.example/about", "http://shop.example/"),  # a site on plain http
        ("shop.example", "https://shop.example/a?b=1", "https://shop.example/"),
        ("shop.example", "", "https://shop.example/"),
    ],
)
def test_the_homepage_is_the_sites_root_where_the_result_was_served(domain, result_url, homepage):
    # The company is still keyed by host alone; only where its homepage is read follows the result.
    assert homepage_url(domain, result_url) == homepage
