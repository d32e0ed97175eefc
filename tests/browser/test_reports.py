"""An operator opens a group's report in the browser: the numbers on the page are the CSV's numbers,
the page fetches nothing but itself, and a stored weekly report opens from the admin list the same way."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from leadops.report_store import store_report
from leadops.reports import parse_csv
from telegram_sources.models import Membership, TelegramGroup, TelegramUser
from telegram_sources.reports import group_report
from tests.leadops.report_pages import unquote_formula

# The live server needs the test database; pytest-django only creates it for tests that say so.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PASSWORD = "browser-test-password"
NAMES = ["Анна", "Boris", "Chen", "Dana", "Emil", "Fatima", "Gleb", "Hana", "Ivan", "Jules", "Kira", "Lev"]
GENDERS = ["female", "male", "unknown", "female", "male", ""]
READ_ROWS = """els => els.map(e => [e.dataset.section, e.dataset.name, e.dataset.key, e.dataset.column,
                                   e.textContent])"""


@pytest.fixture
def report_site(live_server, transactional_db, settings, tmp_path, django_user_model):
    """Written before `browser_page` starts Playwright's event loop (see test_seeders.stale_reference)."""
    settings.MEDIA_ROOT = tmp_path
    django_user_model.objects.create_superuser("admin", "", PASSWORD)
    now = timezone.now()
    group = TelegramGroup.objects.create(telegram_id=-100900, title="Synthetic <meetup> & co", username="synth_meetup")
    for n, name in enumerate(NAMES):
        user = TelegramUser.objects.create(
            telegram_id=6000 + n,
            username=f"{name.lower()}_example",
            first_name=name,
            gender=GENDERS[n % len(GENDERS)],
            offline_cnt=n * 3 % 7,
            last_offline_at=datetime(2024, 1, 1 + n, tzinfo=UTC) if n % 4 else None,
            in_reference=n % 3 == 0,
        )
        joined = now - timedelta(days=(n * 5) % 40)
        left = now - timedelta(days=1) if n in (4, 9) else None
        Membership.objects.create(group=group, user=user, first_seen_at=joined, last_seen_at=left or now, left_at=left)
    TelegramUser.objects.create(telegram_id=6999, username="only_in_reference", in_reference=True)
    stored = store_report(report=group_report(group=group), kind="telegram", object_id=group.pk)
    return live_server.url, group, stored


def log_in(page, url):
    page.goto(f"{url}/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#content")


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def csv_rows(page, url) -> set[tuple]:
    """The CSV downloaded with the browser's own session cookie."""
    response = page.request.get(url)
    assert response.ok and response.headers["content-type"].startswith("text/csv")
    return {(*row[:4], unquote_formula(row[4])) for row in parse_csv(response.text())}


def shown_rows(page) -> set[tuple]:
    rows = page.eval_on_selector_all("[data-section]", READ_ROWS)
    assert len(rows) == len({tuple(row) for row in rows})
    return {tuple(row) for row in rows}


def test_the_numbers_on_a_groups_report_page_are_the_numbers_of_its_csv(report_site, browser_page):
    url, group, _stored = report_site
    page = browser_page
    log_in(page, url)
    page.goto(f"{url}/admin/telegram_sources/telegramgroup/{group.pk}/change/")
    # The change form's own late requests (the admin's calendar icon) are not the report's.
    page.wait_for_load_state("networkidle")
    requests = []
    page.on("request", lambda request: requests.append(request.url))

    page.click("a.report-html")
    page.wait_for_selector("[data-metric='Members now']")
    shot(page, "telegram-group-report")

    assert requests == [f"{url}/admin/telegram_sources/telegramgroup/{group.pk}/report/?format=html"]
    assert page.title() == "Telegram group report: Synthetic <meetup> & co"
    assert page.locator("[data-metric='Members now']").inner_text() == "10"  # 12 synthetic members, 2 left
    assert page.locator("svg.chart").count() == 4  # members, joins/leaves, gender, reference overlap
    shown = shown_rows(page)
    assert page.locator("a, script, link, img").count() == 0  # standalone: no admin chrome, nothing to fetch
    downloaded = csv_rows(page, f"{url}/admin/telegram_sources/telegramgroup/{group.pk}/report/?format=csv")
    # Built twice (page, then CSV), so only the moment it was built differs.
    assert {row for row in shown if row[2] != "generated_at"} == {r for r in downloaded if r[2] != "generated_at"}
    numbers = [row for row in shown if row[0] in ("metric", "series", "split")]
    assert len(numbers) > 90 * 3
    top = [row for row in shown if row[0] == "table" and row[3] == "offline_cnt"]
    assert len(top) == 10


def test_a_stored_weekly_report_opens_from_the_admin_list_with_its_csv(report_site, browser_page):
    url, _group, stored = report_site
    page = browser_page
    log_in(page, url)
    page.goto(f"{url}/admin/leadops/storedreport/")
    page.wait_for_selector("#result_list")
    shot(page, "stored-reports")
    assert page.locator("#result_list tbody tr").count() == 1
    csv_url = page.locator("#result_list a.stored-report-csv").get_attribute("href")

    page.click("#result_list a.stored-report-html")
    page.wait_for_selector("[data-metric='Members now']")

    assert page.url.endswith(f"/admin/leadops/storedreport/{stored.pk}/download/html/")
    assert shown_rows(page) == csv_rows(page, f"{url}{csv_url}")  # one stored rendering: every row, even the date
