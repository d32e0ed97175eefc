"""setup_schedules: default beat entries from each app's schedules.py, idempotent, operator edits kept."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from leadops.schedules import Schedule, ScheduleError, collect_schedules, sync_schedules

pytestmark = pytest.mark.django_db

REFRESH = "Refresh the reference group daily"


def setup_schedules() -> str:
    out = StringIO()
    call_command("setup_schedules", stdout=out)
    return out.getvalue()


def test_it_creates_the_reference_refresh_at_0530_utc():
    output = setup_schedules()

    entry = PeriodicTask.objects.get(name=REFRESH)
    assert entry.task == "telegram_sources.tasks.scheduled_reference_refresh"
    assert entry.enabled
    cron = entry.crontab
    fields = (cron.minute, cron.hour, cron.day_of_month, cron.month_of_year, cron.day_of_week)
    assert fields == ("30", "5", "*", "*", "*")
    assert str(cron.timezone) == "UTC"
    assert "REFERENCE_MAX_AGE_HOURS" in entry.description
    assert f"created: {REFRESH}" in output


def test_it_creates_nothing_new_when_run_again():
    setup_schedules()
    counts = (PeriodicTask.objects.count(), CrontabSchedule.objects.count())

    output = setup_schedules()

    assert (PeriodicTask.objects.count(), CrontabSchedule.objects.count()) == counts
    assert "0 created" in output
    assert f"exists, schedule and enabled flag left as they are: {REFRESH}" in output


def test_it_keeps_what_the_operator_changed_and_refreshes_the_description():
    setup_schedules()
    entry = PeriodicTask.objects.get(name=REFRESH)
    evening = CrontabSchedule.objects.create(minute="0", hour="21", timezone="UTC")
    entry.enabled = False
    entry.crontab = evening
    entry.description = "old words"
    entry.save()

    output = setup_schedules()

    entry.refresh_from_db()
    assert not entry.enabled
    assert entry.crontab_id == evening.pk
    assert "REFERENCE_MAX_AGE_HOURS" in entry.description
    assert "(description refreshed)" in output


def test_it_collects_the_schedules_of_every_app():
    assert REFRESH in [entry.name for entry in collect_schedules()]


def test_it_refuses_an_entry_whose_task_does_not_exist():
    bad = Schedule(name="typo", task="telegram_sources.tasks.no_such_task", crontab={"hour": "1"})

    with pytest.raises(ScheduleError, match="no task"):
        sync_schedules(schedules=[bad])
    assert not PeriodicTask.objects.exists()


def test_it_refuses_an_unknown_crontab_field():
    bad = Schedule(name="odd", task="telegram_sources.tasks.scheduled_reference_refresh", crontab={"hours": "1"})

    with pytest.raises(ScheduleError, match="hours"):
        sync_schedules(schedules=[bad])


def test_the_command_reports_a_bad_entry_as_an_error(monkeypatch):
    def broken():
        raise ScheduleError("schedule names must be unique: twice")

    monkeypatch.setattr("leadops.management.commands.setup_schedules.sync_schedules", broken)
    with pytest.raises(CommandError, match="unique"):
        call_command("setup_schedules")
