"""An operator logs in and sees the dashboard with the jobs that ran.

Against `make demo` when LEADOPS_DEMO_URL / LEADOPS_DEMO_PASSWORD are set
(.ci/demo-smoke), otherwise against a live test server loaded with `manage.py demo`.
"""

import io
import os
from pathlib import Path

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def site(request):
    if os.environ.get("LEADOPS_DEMO_URL"):
        return os.environ["LEADOPS_DEMO_URL"], "admin", os.environ["LEADOPS_DEMO_PASSWORD"]
    live_server = request.getfixturevalue("live_server")
    request.getfixturevalue("transactional_db")
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("admin", "", "browser-test-password")
    call_command("demo", stdout=io.StringIO())
    return live_server.url, "admin", "browser-test-password"


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

    assert "Operations" in page.title()
    rows = page.locator("#latest-jobruns tr.jobrun-row")
    assert rows.count() >= 2
    assert "selfcheck" in page.locator("#latest-jobruns").inner_text()
    assert page.locator("#latest-jobruns tr.jobrun-succeeded").count() >= 1

    page.locator("#latest-jobruns tr.jobrun-succeeded a").first.click()
    page.wait_for_selector("text=checks_passed")
