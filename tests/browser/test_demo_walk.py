"""A new operator's day with the demo, in a real browser, start to finish.

Logs in through the form, looks at the dashboard, approves the seeders' top-10, starts a VK
subscriber sync and watches a real Celery worker take it to 100%, runs the outreach pipeline
with the admin's button and finds the emails in the demo mailbox.

The world is `make demo`'s: `manage.py demo` loads the data, the VK emulator holds run_vk.py's
community, the outreach emulators and settings are those of tests/outreach/test_demo_outreach.py
(its `world` fixture: the Makefile's DEMO_ENV). Only the VK emulator is slowed down, so the sync's
bar is seen part-way.

Screenshots go to var/screenshots/; with LEADOPS_SCREENSHOTS=docs also to docs/, where the
README shows them (a normal run leaves the tree alone).
"""

import io
import os
import shutil
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections
from django.urls import reverse

from outreach.models import OutreachMessage
from tests.conftest import ROOT
from tests.emulators import run_vk
from tests.emulators.vk import VkEmulator
from tests.outreach.test_demo_outreach import ADDRESSES, world  # noqa: F401 - `world` is a fixture used below
from tests.workers import celery_worker, tasks_go_to

pytestmark = [
    pytest.mark.browser,
    pytest.mark.redis,  # the worker's broker
    pytest.mark.postgres,  # the worker, another process, reads and writes the test database
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),  # one long walk: the suite's 120 s is meant for a single behaviour
]

PASSWORD = "browser-test-password"
SCREENSHOTS = ROOT / "var" / "screenshots"
README_SHOTS = ("dashboard", "seeders", "job-progress")  # the pictures the README embeds
# Each groups.getMembers page waits this long in the emulator (one at a time): the demo's 120 pages
# take ~10 s, in 5 steps of 20%, while the job page polls once a second.
PAGE_DELAY = 0.08
ENDED = ("succeeded", "failed", "cancelled")


def shot(page, name: str, *, down_to: str = "") -> None:
    """The window (1280x900), or from the top of the page down to the end of the element `down_to`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if down_to:
        box = page.locator(down_to).bounding_box()
        clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": box["y"] + box["height"] + 16}
        page.screenshot(path=str(path), full_page=True, clip=clip)
    else:
        page.screenshot(path=str(path))
    target = os.environ.get("LEADOPS_SCREENSHOTS")
    if target and name in README_SHOTS:
        directory = Path(ROOT, target)
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, directory / path.name)


def slow_down_pages(emulator: VkEmulator, seconds: float) -> None:
    fetch = emulator.methods["groups.getMembers"]

    def slow(params, token):
        if params.get("count") != "0":  # the size probe stays quick
            time.sleep(seconds)
        return fetch(params, token)

    emulator.register_method("groups.getMembers", slow)


@pytest.fixture
def demo_vk(settings):
    """The VK emulator with run_vk.py's community and tokens (`make demo` also gives it a wall and dialogs)."""
    emulator = VkEmulator()
    for n, (secret, kind) in enumerate(run_vk.DEMO_TOKENS.items(), 1):
        emulator.add_token(secret, kind, label=f"demo-{n}")
    group = run_vk.DEMO_GROUP_ID
    emulator.add_group(group, "Demo VK community", screen_name="demo_vk_club", members=run_vk.DEMO_MEMBERS)
    emulator.add_token(
        run_vk.DEMO_COMMUNITY_TOKEN, "community", label="demo-community", group_id=group, admin={group: 3}
    )
    with emulator:
        settings.VK_API_URL = emulator.url
        yield emulator


@dataclass
class Worker:
    queue: str
    log: Path

    def output(self) -> str:
        return self.log.read_text()[-3000:]


@pytest.fixture
def worker(transactional_db, demo_vk, tmp_path):
    """A real Celery worker (another process) on a queue of its own, against the test database and the VK emulator."""
    log, queue = tmp_path / "worker.log", f"test-walk-{uuid.uuid4().hex[:8]}"
    with celery_worker(queue, log, env={"VK_API_URL": demo_vk.url}):
        yield Worker(queue=queue, log=log)


def jobs_go_to(worker: Worker):
    """Tasks started meanwhile go to the worker instead of running eagerly in this process."""
    return tasks_go_to(worker.queue)


@pytest.fixture
def demo_site(live_server, world, demo_vk, settings, django_user_model):  # noqa: F811 - the imported fixture
    """`manage.py demo` with make demo's settings; its first jobs (exports, a VK sync) run here, eagerly."""
    settings.REFERENCE_GROUP = "-1001000000001"
    settings.TELEGRAM_RPS = 1000
    settings.JOINER_PAUSE_SUCCESS = "0-0"
    settings.JOINER_PAUSE_ERROR = 0
    django_user_model.objects.create_superuser("admin", "", PASSWORD)
    call_command("demo", stdout=io.StringIO())
    return live_server.url


@pytest.fixture
def page(demo_site, worker, browser_page):
    """The browser, opened after the data is written (ORM calls inside Playwright's loop get a connection of
    their own: closed here, before the test database is dropped)."""
    browser_page.set_viewport_size({"width": 1280, "height": 900})
    yield browser_page
    connections.close_all()


def watch_job(page, *, seconds: float) -> str:
    """Follow the job page until the job has ended; screenshot it the first time its bar is part-way.

    Returns the percent the screenshot shows ("" when the job ended before a part-way moment was seen).
    """
    from playwright.sync_api import Error as PlaywrightError

    seen, deadline = "", time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            percent = page.locator("#job-progress").get_attribute("data-percent")
            status = page.locator("#job-status").get_attribute("data-status")
        except PlaywrightError:  # the page reloads itself once the job has ended
            continue
        if not seen and percent and 0 < int(percent) < 100:
            shot(page, "job-progress")
            seen = percent
        if status in ENDED:
            return seen
        page.wait_for_timeout(100)
    pytest.fail(f"the job did not end within {seconds} s")


def log_in(page, url: str) -> None:
    page.goto(f"{url}/admin/")
    page.locator("#id_username").press_sequentially("admin")
    page.locator("#id_password").press_sequentially(PASSWORD)
    page.click("input[type=submit]")


def test_a_new_operator_walks_through_a_day_of_the_demo(demo_site, demo_vk, worker, world, page):  # noqa: F811
    from playwright.sync_api import expect

    url = demo_site

    # Morning: log in, look at the dashboard.
    log_in(page, url)
    page.wait_for_selector("#dashboard")
    cards = page.locator("#dashboard [data-card]")
    names = {cards.nth(i).get_attribute("data-card") for i in range(cards.count())}
    assert {"telegram", "vk", "outreach", "jobs", "limits"} <= names
    assert page.locator("#latest-jobruns tr.jobrun-succeeded").count() >= 1  # the demo's first jobs ran
    shot(page, "walk-dashboard-morning", down_to="#dashboard")

    # The seeders: the next top-10 (the demo's reference snapshot is fresh), approved.
    page.click(f"#seeders-card a[href='{reverse('admin:seeders_seederbatch_review')}']")
    page.wait_for_selector("#seeders-top-table")
    rows = page.locator("#seeders-top-table tr.seeder-row")
    assert rows.count() == 10
    top10 = [rows.nth(i).get_attribute("data-telegram-id") for i in range(10)]
    assert page.locator("#approve-button").is_enabled()
    shot(page, "seeders")
    page.click("#approve-button")
    page.wait_for_selector("#confirm-form")
    page.click("#confirm-button")
    page.wait_for_selector("#verify-table")
    assert "Approved batch #" in page.locator("ul.messagelist").inner_text()
    marked = page.locator("#verify-table tr.seeder-row.in-batch")
    assert [marked.nth(i).get_attribute("data-telegram-id") for i in range(marked.count())] == top10
    assert [cell.inner_text() for cell in marked.locator("td.stale-cell").all()] == ["yes"] * 10
    shot(page, "walk-seeders-approved")

    # VK: people joined and left since the demo's first sync; sync the subscribers again, on the worker.
    members = demo_vk.groups[run_vk.DEMO_GROUP_ID].members
    demo_vk.members_change(join=range(10_000_000, 10_000_250), leave=members[::1000])
    slow_down_pages(demo_vk, PAGE_DELAY)
    page.goto(f"{url}/admin/")
    page.click("#dashboard-vk h2 a")
    page.wait_for_selector("#result_list")
    page.check(f"#result_list input[name=_selected_action][value='{run_vk.DEMO_GROUP_ID}']")
    page.select_option("select[name=action]", "sync_subscribers")
    with jobs_go_to(worker):
        page.click("button[name=index]")  # the admin's "Go"
        page.wait_for_selector("#job-progress")
    assert "Started 1 subscriber sync job(s)" in page.locator("ul.messagelist").inner_text()
    seen = watch_job(page, seconds=120)
    expect(page.locator("#job-live")).to_have_attribute("data-active", "false")  # reloaded as it ended
    status = page.locator("#job-status")
    assert status.get_attribute("data-status") == "succeeded", worker.output()
    expect(page.locator("#job-progress")).to_have_attribute("data-percent", "100")
    counters = page.locator(".field-counters .readonly").inner_text()
    assert '"joined": 250' in counters and '"left": 120' in counters, counters
    if not seen:
        shot(page, "job-progress")
        warnings.warn(
            "the VK sync ended before its bar was seen part-way: job-progress.png shows it finished", stacklevel=1
        )
    shot(page, "walk-vk-sync-done")

    # Outreach: "Run the pipeline once", again after a while (searches are polled a minute after they start).
    later, sent = world["later"], OutreachMessage.objects.none()
    for _ in range(6):
        page.goto(url + reverse("admin:outreach_outreachmessage_changelist"))
        page.click("#outreach-run-once")
        expect(page.locator("#job-status")).to_have_attribute("data-status", "succeeded", timeout=60_000)
        sent = OutreachMessage.objects.filter(status=OutreachMessage.Status.SENT).select_related("contact")
        if sent.count() == len(ADDRESSES):
            break
        later.advance(61)
    assert {message.contact.email for message in sent} == set(ADDRESSES.values())
    shot(page, "walk-outreach-run")

    # Evening: the emails in the demo mailbox, then the dashboard once more.
    page.goto(url + reverse("admin:outreach_outreachmessage_changelist"))
    page.click(f"#content a[href='{reverse('admin:outreach_demo_mail')}']")
    page.wait_for_selector("#demo-mail")
    mailbox = page.locator("#demo-mail tbody tr")
    assert mailbox.count() == len(ADDRESSES)
    listed = {(row.locator("td").nth(2).inner_text(), row.locator("td").nth(3).inner_text()) for row in mailbox.all()}
    assert listed == {(message.contact.email, message.subject) for message in sent}
    shot(page, "walk-demo-mailbox")
    page.goto(f"{url}/admin/")
    page.wait_for_selector("#dashboard-outreach")
    joins = f"#dashboard-vk [data-stat='community_{run_vk.DEMO_GROUP_ID}_joins']"
    assert page.locator(joins).inner_text() == "250"  # what the day did: the README's picture of the dashboard
    shot(page, "dashboard", down_to="#dashboard")
