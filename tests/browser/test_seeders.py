"""An operator reviews the next top-10, approves them through the confirmation page and
sees them marked stale; a colleague without the approve permission only looks."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from leadops.models import JobRun
from telegram_sources.models import TelegramGroup, TelegramUser

# The live server needs the test database; pytest-django only creates it for tests that say so.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
REFERENCE = -100123
TOP10 = [str(telegram_id) for telegram_id in range(5000, 5010)]
NAMES = ["Анна", "Boris", "Chen", "Dana", "Emil", "Fatima", "Gleb", "Hana", "Ivan", "Jules", "Kira", "Lev"]


@pytest.fixture
def seeders_site(live_server, transactional_db, settings, django_user_model):
    settings.REFERENCE_GROUP = str(REFERENCE)
    settings.REFERENCE_MAX_AGE_HOURS = 24
    settings.SEEDERS_BATCH_SIZE = 10
    TelegramGroup.objects.create(
        kind="reference", telegram_id=REFERENCE, title="Reference", last_exported_at=timezone.now()
    )
    TelegramUser.objects.bulk_create(
        [
            TelegramUser(
                telegram_id=5000 + i,
                username="" if i == 2 else f"{name.lower()}_meetups" if i else "anna_m",
                first_name=name,
                last_name="Example",
                offline_cnt=40 - 2 * i,
                first_seen_at=datetime(2018 + i % 4, 5, 1, tzinfo=UTC),
                last_offline_at=datetime(2024, 3, 1 + i, tzinfo=UTC),
            )
            for i, name in enumerate(NAMES)
        ]
        + [TelegramUser(telegram_id=7001, username="already_in", offline_cnt=99, in_reference=True)]
    )
    perms = Permission.objects.filter(content_type__app_label="seeders")
    for username, codenames in [
        ("approver", ["view_seederbatch", "approve_seederbatch", "view_stalemark"]),
        ("viewer", ["view_seederbatch", "view_stalemark"]),
    ]:
        user = django_user_model.objects.create_user(username, password="browser-test-password", is_staff=True)
        user.user_permissions.set(perms.filter(codename__in=codenames))
    return live_server.url


def log_in(page, url, username):
    page.goto(f"{url}/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", "browser-test-password")
    page.click("input[type=submit]")
    page.wait_for_selector("#seeders-card")


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_an_operator_approves_the_next_ten_and_sees_them_marked_stale(seeders_site, browser_page):
    page = browser_page
    log_in(page, seeders_site, "approver")
    shot(page, "seeders-index")
    page.click("#seeders-card a:has-text('Review the next top-10')")

    page.wait_for_selector("#seeders-top-table")
    shot(page, "seeders-review")
    rows = page.locator("#seeders-top-table tr.seeder-row")
    assert rows.count() == 10
    assert [rows.nth(i).get_attribute("data-telegram-id") for i in range(10)] == TOP10
    assert "no username" in rows.nth(2).inner_text()
    assert "already_in" not in page.locator("#seeders-top-table").inner_text()

    page.click("#approve-button")
    page.wait_for_selector("#confirm-form")
    shot(page, "seeders-approve-confirmation")
    assert "Are you sure" in page.content()
    assert page.locator("#approve-rows tr.seeder-row").count() == 10

    page.click("#confirm-button")
    page.wait_for_selector("#verify-table")
    shot(page, "seeders-verify")
    assert "Approved batch #" in page.locator("ul.messagelist").inner_text()
    marked = page.locator("#verify-table tr.seeder-row.in-batch")
    assert marked.count() == 10
    assert [marked.nth(i).get_attribute("data-telegram-id") for i in range(10)] == TOP10
    assert all(marked.nth(i).locator("td.stale-cell").inner_text() == "yes" for i in range(10))
    assert page.locator("#verify-table tr.seeder-row:not(.in-batch) td.stale-cell").first.inner_text() == "no"

    page.click("text=Roll back batch")
    page.wait_for_selector("#rollback-form")
    shot(page, "seeders-rollback-confirmation")
    page.click("#rollback-form input[type=submit]")
    page.wait_for_selector("ul.messagelist")
    shot(page, "seeders-batch-rolled-back")
    assert "10 stale marks revoked" in page.locator("ul.messagelist").inner_text()

    page.click(".breadcrumbs a:has-text('Seeder batches')")
    page.wait_for_selector("#result_list")
    shot(page, "seeders-batches")
    assert page.locator("#result_list tbody tr").count() == 1
    assert "rolled back" in page.locator("#result_list tbody tr").inner_text()


def test_a_colleague_without_the_permission_sees_no_approve_button(seeders_site, browser_page):
    page = browser_page
    log_in(page, seeders_site, "viewer")
    page.click("#seeders-card a:has-text('Review the next top-10')")

    page.wait_for_selector("#seeders-top-table")
    shot(page, "seeders-review-read-only")
    assert page.locator("#seeders-top-table tr.seeder-row").count() == 10
    assert page.locator("#approve-button").count() == 0
    assert page.locator("#refresh-reference").count() == 0
    assert page.locator("#read-only-note").is_visible()


@pytest.fixture
def stale_reference(seeders_site):
    """Written before `browser_page` starts Playwright's event loop: ORM calls made after it
    would open a connection of their own that outlives the test database."""
    TelegramGroup.objects.filter(telegram_id=REFERENCE).update(last_exported_at=timezone.now() - timedelta(hours=30))
    return JobRun.objects.create(
        kind="tg-refresh-reference", target="Reference", status="running", progress_done=120, progress_total=400
    )


def test_a_stale_reference_is_flagged_and_approving_waits_for_a_refresh(seeders_site, stale_reference, browser_page):
    page = browser_page
    log_in(page, seeders_site, "approver")
    page.goto(f"{seeders_site}/admin/seeders/seederbatch/review/")

    page.wait_for_selector("#reference-warning")
    shot(page, "seeders-review-stale-reference")
    assert "30 h old (limit 24 h)" in page.locator("#reference-warning").inner_text()
    assert page.locator("#approve-button").is_disabled()
    assert "Running" in page.locator("#refresh-job").inner_text()
    assert page.locator("#refresh-reference").is_disabled()
    assert page.locator("meta[http-equiv=refresh]").count() == 1
    page.goto("about:blank")  # stop the reloads before the live server shuts down
