"""Playwright driving Debian's chromium (never a downloaded browser).

Skipped with a reason when chromium or Playwright is missing, unless
LEADOPS_REQUIRE_BROWSER is set (CI), where that is a failure.
"""

import os
import shutil

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]


def _chromium_path():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def browser_page(tmp_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    executable = _chromium_path()
    if not (executable and sync_playwright):
        reason = "browser tests need Debian's chromium and the playwright package (bash .ci/run installs both)"
        if os.environ.get("LEADOPS_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls
    # made by live_server fixtures here are still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page()
        yield page
        browser.close()
