"""Starting Telegram jobs from the admin, commands and beat."""

import pytest

from leadops.models import JobRun
from telegram_sources.models import TelegramGroup
from telegram_sources.services.starters import start_group_export

pytestmark = pytest.mark.django_db


def test_it_does_not_start_a_second_export_of_a_group_that_is_exporting(django_capture_on_commit_callbacks):
    group = TelegramGroup.objects.create(telegram_id=-1001, title="Chat")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = start_group_export(group=group)
        again = start_group_export(group=group)

    assert again == first
    assert len(callbacks) == 1
    JobRun.objects.filter(pk=first.pk).update(status=JobRun.Status.SUCCEEDED)
    with django_capture_on_commit_callbacks(execute=False):
        assert start_group_export(group=group) != first
