"""An operator logs in and sees the dashboard with the jobs that ran.

Against `make demo` when LEADOPS_DEMO_URL / LEADOPS_DEMO_PASSWORD are set
(.ci/demo-smoke), otherwise against a live test server loaded with `manage.py demo`.
"""

import io
import os
from pathlib import Path

import pytest
from django.core.management import call_command

# The live server needs the test database; pytest-django only creates it for tests that say so.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def live_site(live_server, transactional_db, settings):
    settings.REFERENCE_GROUP = "-1001000000001"  # as make demo sets it
    settings.TELEGRAM_RPS = 1000
    settings.JOINER_PAUSE_SUCCESS = "0-0"
    settings.JOINER_PAUSE_ERROR = 0
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("admin", "", "browser-test-password")
    call_command("demo", stdout=io.StringIO())
    return live_server.url, "admin", "browser-test-password"


@pytest.fixture
def site(request):
    if os.environ.get("LEADOPS_DEMO_URL"):
        return os.environ["LEADOPS_DEMO_URL"], "admin", os.environ["LEADOPS_DEMO_PASSWORD"]
    return request.getfixturevalue("live_site")


def test_it_logs_in_and_shows_the_latest_jobs(site, browser_page):
    url, username, password = site
    page = browser_page
    page.goto(f"{url}/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#latest-jobruns")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "admin-dashboard.png"), full_page=True)

    # `make demo` speaks the team's language (LANGUAGE_CODE defaults to ru); the test settings pin English.
    assert ("Операции" if os.environ.get("LEADOPS_DEMO_URL") else "Operations") in page.title()
    rows = page.locator("#latest-jobruns tr.jobrun-row")
    assert rows.count() >= 2
    jobs = page.locator("#latest-jobruns").inner_text()
    assert "selfcheck" in jobs and "tg-export" in jobs and "tg-refresh-reference" in jobs
    assert page.locator("#latest-jobruns tr.jobrun-succeeded").count() >= 1

    page.locator("#latest-jobruns tr.jobrun-succeeded a", has_text="selfcheck").first.click()
    page.wait_for_selector("text=checks_passed")
