"""`manage.py demo` fills a fresh database with things that really ran."""

import io

import pytest
from django.core.management import call_command

from accounts.models import JoinTarget, TelegramAccount
from leadops.models import JobRun
from telegram_sources.fake_gateway import FakeTelegramGateway
from telegram_sources.models import TelegramGroup, TelegramUser

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def demo_settings(settings):
    settings.REFERENCE_GROUP = "-1001000000001"
    settings.TELEGRAM_RPS = 1000
    settings.JOINER_PAUSE_SUCCESS = "0-0"  # pauses are the joiner tests' business
    settings.JOINER_PAUSE_ERROR = 0
    FakeTelegramGateway.use_world(None)  # the demo world


def test_it_runs_the_demo_jobs_and_exports_the_demo_groups():
    call_command("demo", stdout=io.StringIO())

    assert set(JobRun.objects.values_list("status", flat=True)) == {JobRun.Status.SUCCEEDED}
    kinds = sorted(JobRun.objects.values_list("kind", flat=True))
    assert kinds == ["selfcheck", "selfcheck", "tg-export", "tg-export", "tg-export", "tg-join", "tg-refresh-reference"]
    statuses = dict(JoinTarget.objects.values_list("link", "status"))
    assert statuses["https://t.me/demo_meetup_1"] == "joined"
    assert statuses["https://t.me/+DemoExpired001"] == "error"
    assert TelegramAccount.objects.get(session_name="demo_resting").status == "cooldown"
    assert TelegramGroup.objects.get(telegram_id=-1001000000001).kind == "reference"
    assert TelegramUser.objects.filter(in_reference=True).count() == 300
    assert TelegramUser.objects.filter(offline_cnt=3).exists()


def test_it_can_run_twice():
    call_command("demo", stdout=io.StringIO())
    call_command("demo", stdout=io.StringIO())
    assert TelegramGroup.objects.count() == 8
    assert JoinTarget.objects.count() == 6
