"""Outreach I end to end: niches sheet → queries → Yandex operations → results → companies → dedup.

The Yandex emulator's clock is the only clock: the services and the client both read it,
and operations finish only after `operation_delay` seconds of it.
"""

from datetime import UTC, datetime, timedelta

import pytest

from outreach.models import Company, NicheRow, SearchBatchLog, SerpOperation, SerpQuery, SerpResult
from outreach.services.companies import dedupe
from outreach.services.search import poll_operations, start_due_queries
from outreach.services.sheet_sync import sync_sheet
from outreach.sheets import FakeSheetsGateway, SheetError
from outreach.yandex import YandexClient, YandexConfigError
from tests.conftest import run_manage
from tests.emulators.yandex import YandexEmulator, serp_xml

NOON = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)  # 15:00 Moscow: outside the night window
STATIC = "t1.static-pipeline-token"
HEADER = ["Batch tag", "Niche", "City", "Country", "Status", "Notes"]
SHEET = [
    HEADER,
    ["b1", "стоматология", "Москва", "", "", "first"],
    ["b1", "автосервис", "Санкт-Петербург", "", "", ""],  # an ordinary hyphen: still lr 2
    ["b2", "кафе", "", "Россия", "", ""],
    ["b2", "", "Казань", "", "", "no niche: skipped"],
    ["b0", "цветы", "Москва", "", "done", "done before: skipped"],
]
SHARED = "shared-clinic.example.ru"


def overlapping_serp(text: str, lr: int) -> bytes:
    """Each query's own results, plus one site every query finds (spelled differently each time)."""
    xml = serp_xml(text, 5).decode()
    variant = {213: f"https://WWW.{SHARED}/", 2: f"http://{SHARED}:80/about/", 225: f"{SHARED}/#contacts"}[lr]
    extra = (
        f"<group><doccount>1</doccount><doc><url>{variant}</url><domain>{SHARED}</domain>"
        f"<title>Общая <hlword>клиника</hlword></title><passages><passage>есть везде</passage></passages>"
        "<properties><lang>ru</lang></properties></doc></group>"
    )
    return xml.replace("</grouping>", extra + "</grouping>").encode()


@pytest.fixture
def ya(settings, clock):
    with YandexEmulator(start=NOON.timestamp(), operation_delay=300, serp=overlapping_serp) as emulator:
        emulator.add_static_token(STATIC)
        emulator.configure(settings)
        settings.YANDEX_CLOUD_IAM_TOKEN = STATIC
        settings.YANDEX_CLOUD_SA_KEY_JSON = settings.YANDEX_CLOUD_SA_KEY_FILE = ""
        settings.YANDEX_ENFORCE_NIGHT_WINDOW = True
        yield emulator


@pytest.fixture
def sheet():
    FakeSheetsGateway.load(SHEET)
    yield FakeSheetsGateway
    FakeSheetsGateway.load([])


@pytest.fixture
def client(ya):
    return YandexClient(sleep=ya.advance, now=ya.now_dt)


def column(sheet, name: str) -> list[str]:
    index = [cell.strip().lower() for cell in sheet.rows[0]].index(name)
    return [row[index] if index < len(row) else "" for row in sheet.rows[1:]]


def run_everything(ya, client, sheet) -> None:
    """What beat does over one night: sync, start, poll until done, dedupe, sync again."""
    sync_sheet(gateway=sheet(), now=ya.now_dt())
    start_due_queries(client=client, now=ya.now_dt())
    for _ in range(20):
        poll_operations(client=client, now=ya.now_dt())
        ya.advance(60)
    dedupe()
    sync_sheet(gateway=sheet(), now=ya.now_dt())


def snapshot() -> dict:
    return {
        "rows": [
            {k: v for k, v in row.items() if k != "synced_at"}
            for row in NicheRow.objects.order_by("sheet_row").values()
        ],
        "queries": list(SerpQuery.objects.order_by("pk").values()),
        "operations": list(SerpOperation.objects.order_by("pk").values()),
        "results": list(SerpResult.objects.order_by("pk").values()),
        "companies": list(Company.objects.order_by("pk").values_list("pk", "canonical_domain", "status", "name")),
    }


@pytest.mark.django_db
def test_it_takes_a_sheet_through_night_searches_to_companies_and_reports_back(ya, client, sheet):
    first = sync_sheet(gateway=sheet(), now=ya.now_dt())

    assert first.counts() == {"rows": 3, "skipped": 2, "generated": 3, "inserted": 3, "duplicates": 0, "errors": 0}
    queries = list(SerpQuery.objects.order_by("scheduled_for"))
    assert [(q.text, q.lr) for q in queries] == [
        ("стоматология Москва", 213),
        ("автосервис Санкт-Петербург", 2),
        ("кафе Россия", 225),
    ]
    # Noon UTC is outside the night window: 21:00 UTC (00:00 Moscow) is the first slot, rows spread from it.
    assert queries[0].scheduled_for == datetime(2025, 3, 10, 21, 0, tzinfo=UTC)
    assert len({q.scheduled_for for q in queries}) == 3
    assert column(sheet, "status") == ["queued", "queued", "queued", "", "done"]
    assert column(sheet, "generated") == ["1", "1", "1", "", ""]
    assert column(sheet, "first_scheduled_for")[0] == "2025-03-10 21:00 UTC"
    assert sheet.rows[0][: len(HEADER)] == HEADER  # headers kept where they were, write-back ones appended

    # Daytime: nothing is due, nothing is sent to Yandex.
    assert start_due_queries(client=client, now=ya.now_dt()).started == 0
    assert ya.requests["search"] == 0

    ya.advance(9 * 3600 + 60)  # 21:01 UTC, 00:01 Moscow
    started = start_due_queries(client=client, now=ya.now_dt())
    assert started.started == 3 and ya.requests["search"] == 3
    body = ya.searches[0]
    assert body["query"]["queryText"] == "стоматология Москва" and body["region"] == "213"

    ya.advance(60)
    assert poll_operations(client=client, now=ya.now_dt()).waiting == 3  # the operations take minutes
    assert SerpOperation.objects.filter(status="created").count() == 3
    for _ in range(10):
        ya.advance(120)
        poll_operations(client=client, now=ya.now_dt())

    assert set(SerpOperation.objects.values_list("status", flat=True)) == {"done"}
    assert set(SerpQuery.objects.values_list("status", flat=True)) == {"completed"}
    assert SerpResult.objects.count() == 18
    # One company per site, however each query spelled its URL; the homepage, not the result URL.
    shared = Company.objects.get(canonical_domain=SHARED)
    assert shared.website_url == f"https://{SHARED}/"  # the first result that named it was https
    assert SerpResult.objects.filter(company=shared).count() == 3
    assert Company.objects.count() == 16
    assert not Company.objects.filter(canonical_domain__startswith="www.").exists()
    assert dedupe()["duplicates"] == 0

    sync_sheet(gateway=sheet(), now=ya.now_dt())
    assert column(sheet, "status") == ["completed", "completed", "completed", "", "done"]
    assert column(sheet, "last_error") == ["", "", "", "", ""]

    # Again, all of it: nothing changes, nothing is written to the sheet, nothing is sent to Yandex.
    before, writes, searches = snapshot(), len(sheet.writes), ya.requests["search"]
    run_everything(ya, client, sheet)
    assert snapshot() == before
    assert len(sheet.writes) == writes
    assert ya.requests["search"] == searches


@pytest.mark.django_db
def test_it_fails_only_the_operation_whose_xml_is_broken(ya, client, sheet):
    def serp(text, lr):
        return b"<yandexsearch><response><results>" if lr == 2 else serp_xml(text, 3)

    ya.serp = serp
    sync_sheet(gateway=sheet(), now=ya.now_dt())
    ya.advance(9 * 3600 + 60)
    run_everything(ya, client, sheet)

    broken = SerpQuery.objects.get(lr=2)
    assert broken.status == "failed" and "XML" in broken.last_error
    assert broken.operations.get().error_payload["message"] == broken.last_error
    assert not SerpResult.objects.filter(operation__query=broken).exists()
    assert SerpQuery.objects.filter(status="completed").count() == 2
    assert Company.objects.count() == 6
    assert column(sheet, "status") == ["completed", "failed", "completed", "", "done"]
    assert "XML" in column(sheet, "last_error")[1]


@pytest.mark.django_db
def test_it_fails_an_operation_without_raw_data_and_keeps_the_others(ya, client, sheet):
    sync_sheet(gateway=sheet(), now=ya.now_dt())
    ya.advance(9 * 3600 + 60)
    ya.no_raw_data_next(1)
    run_everything(ya, client, sheet)

    failed = SerpOperation.objects.get(status="failed")
    assert failed.error_payload["message"].startswith("operation finished without rawData")
    assert SerpOperation.objects.filter(status="done").count() == 2
    assert failed.query.status == "failed"


@pytest.mark.django_db
def test_it_refuses_an_unparseable_key_and_starts_nothing(ya, client, sheet, settings):
    settings.YANDEX_CLOUD_IAM_TOKEN = ""
    settings.YANDEX_CLOUD_SA_KEY_JSON = '{"id": "aje1", "private_key": "not a key"'
    sync_sheet(gateway=sheet(), now=ya.now_dt())
    ya.advance(9 * 3600 + 60)

    with pytest.raises(YandexConfigError, match="key"):
        start_due_queries(client=client, now=ya.now_dt())

    # The queries wait for a working key: none started, none failed, none lost.
    assert set(SerpQuery.objects.values_list("status", "attempts")) == {("pending", 0)}
    assert not SerpOperation.objects.exists()
    assert ya.requests["search"] == 0


@pytest.mark.django_db
def test_it_retries_polling_errors_instead_of_failing_the_operation(ya, client, sheet):
    sync_sheet(gateway=sheet(), now=ya.now_dt())
    ya.advance(9 * 3600 + 60)
    start_due_queries(client=client, now=ya.now_dt())
    ya.advance(600)
    ya.http_500_next(times=50, endpoint="operation")

    polled = poll_operations(client=client, now=ya.now_dt())

    assert polled.failed == 0 and len(polled.errors) == 3
    assert set(SerpOperation.objects.values_list("status", flat=True)) == {"created"}
    for _ in range(20):
        ya.advance(300)
        poll_operations(client=client, now=ya.now_dt())
    assert set(SerpOperation.objects.values_list("status", flat=True)) == {"done"}


@pytest.mark.django_db
def test_it_fails_operations_older_than_twelve_hours(ya, client, sheet):
    sync_sheet(gateway=sheet(), now=ya.now_dt())
    ya.advance(9 * 3600 + 60)
    start_due_queries(client=client, now=ya.now_dt())
    ya.advance(13 * 3600)

    assert poll_operations(client=client, now=ya.now_dt()).failed == 3
    assert all("12 hours" in q.last_error for q in SerpQuery.objects.all())


@pytest.mark.django_db
def test_it_refuses_a_sheet_without_a_niche_column_and_writes_nothing(sheet):
    FakeSheetsGateway.load([["City", "Country"], ["Москва", ""]])

    with pytest.raises(SheetError, match="no 'niche' column"):
        sync_sheet(gateway=sheet(), now=NOON)

    assert not NicheRow.objects.exists() and not SerpQuery.objects.exists()
    assert sheet.writes == []


@pytest.mark.django_db
def test_a_bad_row_gets_its_own_error_and_the_others_proceed(sheet):
    FakeSheetsGateway.load([["niche", "city"], ["ремонт " * 60, "Москва"], ["кафе", "Москва"]])

    result = sync_sheet(gateway=sheet(), now=NOON)

    assert result.inserted == 1 and len(result.errors) == 1
    assert column(sheet, "status") == ["error", "queued"]
    assert "niche is 419 characters long; at most 255 fit" in column(sheet, "last_error")[0]
    assert SearchBatchLog.objects.get(kind="sheet-sync").errors == result.errors


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sync-sheet"], "CommandError: outreach sync-sheet: the sheet is empty"),  # a new process: empty fake
        (["import-serp", "/nonexistent/answer.xml"], "CommandError: outreach import-serp: [Errno 2]"),
        (["import-serp"], "CommandError: outreach import-serp needs FILE"),
    ],
)
def test_the_command_fails_in_one_clear_line(args, message):
    result = run_manage("outreach", *args, check=False)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message)


@pytest.mark.django_db
def test_without_the_night_window_queries_are_due_at_once(sheet, settings):
    settings.YANDEX_ENFORCE_NIGHT_WINDOW = False

    sync_sheet(gateway=sheet(), now=NOON)

    times = sorted(SerpQuery.objects.values_list("scheduled_for", flat=True))
    assert times[0] == NOON and times[-1] < NOON + timedelta(seconds=1)


@pytest.mark.django_db
def test_a_query_claimed_by_a_run_that_died_goes_back_to_the_queue(ya, client, sheet):
    sync_sheet(gateway=sheet(), now=ya.now_dt())
    ya.advance(9 * 3600 + 60)
    # A run claimed every query, then its worker was killed before it asked Yandex.
    SerpQuery.objects.update(status="in_progress", claimed_at=ya.now_dt())

    ya.advance(5 * 60)
    assert start_due_queries(client=client, now=ya.now_dt()).started == 0  # maybe still running: left alone
    ya.advance(15 * 60)
    assert start_due_queries(client=client, now=ya.now_dt()).started == 3
    assert SerpOperation.objects.count() == 3
