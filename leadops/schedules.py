"""Default Celery beat entries: each app declares its own, `setup_schedules` writes them.

An app that wants a periodic job adds a `schedules.py` next to its `tasks.py`:

    from leadops.schedules import Schedule

    SCHEDULES = [
        Schedule(
            name="Refresh the reference group daily",
            task="telegram_sources.tasks.scheduled_reference_refresh",
            crontab={"minute": "30", "hour": "5"},
            description="what it does and why an operator might turn it off",
        ),
    ]

The entries become django-celery-beat `PeriodicTask` rows (editable in admin).
Syncing only creates what is missing and refreshes descriptions: an operator's
`enabled` toggle and any change to the schedule survive every later run.
"""

from dataclasses import dataclass, field
from importlib import import_module

from django.apps import apps
from django.db import transaction
from django.utils.module_loading import import_string, module_has_submodule
from django_celery_beat.models import CrontabSchedule, PeriodicTask

CRONTAB_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
SCHEDULE_TIMEZONE = "UTC"


class ScheduleError(Exception):
    """A declared schedule is unusable (unknown task, bad crontab field, duplicate name)."""


@dataclass(frozen=True)
class Schedule:
    name: str  # the PeriodicTask's unique name: the key that makes syncing idempotent
    task: str  # the task's registered name = its dotted path
    crontab: dict[str, str] = field(default_factory=dict)  # crontab fields, "*" when left out; UTC
    description: str = ""
    enabled: bool = True  # only for the first creation; afterwards the operator decides

    def crontab_fields(self) -> dict[str, str]:
        unknown = set(self.crontab) - set(CRONTAB_FIELDS)
        if unknown:
            raise ScheduleError(f"{self.name}: unknown crontab field(s) {', '.join(sorted(unknown))}")
        return {name: str(self.crontab.get(name, "*")) for name in CRONTAB_FIELDS}

    def check_task(self) -> None:
        try:
            task = import_string(self.task)
        except ImportError as exc:
            raise ScheduleError(f"{self.name}: no task {self.task} ({exc})") from None
        if getattr(task, "name", None) != self.task:
            raise ScheduleError(f"{self.name}: {self.task} is not a Celery task registered under that name")


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # existed: schedule and enabled left as they were
    described: list[str] = field(default_factory=list)  # existed, description refreshed


def collect_schedules() -> list[Schedule]:
    """Every installed app's `schedules.SCHEDULES`, in INSTALLED_APPS order."""
    found: list[Schedule] = []
    for config in apps.get_app_configs():
        if module_has_submodule(config.module, "schedules"):
            module = import_module(f"{config.name}.schedules")
            found.extend(getattr(module, "SCHEDULES", []))
    names = [entry.name for entry in found]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ScheduleError(f"schedule names must be unique: {', '.join(duplicates)}")
    return found


def _crontab(entry: Schedule) -> CrontabSchedule:
    fields = {**entry.crontab_fields(), "timezone": SCHEDULE_TIMEZONE}
    crontab = CrontabSchedule.objects.filter(**fields).order_by("pk").first()
    return crontab or CrontabSchedule.objects.create(**fields)


@transaction.atomic
def sync_schedules(*, schedules: list[Schedule] | None = None) -> SyncResult:
    """Create the missing PeriodicTasks; for existing ones refresh only the description."""
    entries = collect_schedules() if schedules is None else schedules
    for entry in entries:  # validate everything before writing anything
        entry.check_task()
        entry.crontab_fields()
    result = SyncResult()
    for entry in entries:
        existing = PeriodicTask.objects.select_for_update().filter(name=entry.name).first()
        if existing is None:
            PeriodicTask.objects.create(
                name=entry.name,
                task=entry.task,
                crontab=_crontab(entry),
                description=entry.description,
                enabled=entry.enabled,
            )
            result.created.append(entry.name)
            continue
        result.kept.append(entry.name)
        if existing.description != entry.description:
            existing.description = entry.description
            existing.save(update_fields=["description"])
            result.described.append(entry.name)
    return result


# The core's own entries (this module is also leadops' `schedules.py`).
SCHEDULES = [
    Schedule(
        name="Write group and community reports weekly",
        task="leadops.tasks.scheduled_weekly_reports",
        crontab={"minute": "0", "hour": "7", "day_of_week": "1"},  # Monday 07:00 UTC, after the daily syncs
        description=(
            "Writes a report (HTML with charts, CSV, JSON) of every Telegram group and VK community to media "
            "storage (MEDIA_ROOT) and lists it under Stored reports: members, joins and leaves over 90 days, "
            "gender split, overlap with the reference, top users. Reading only; turn it off if nobody reads them "
            "(the report of one group is always available from its admin page)."
        ),
    ),
    Schedule(
        name="Health heartbeat",
        task="leadops.tasks.heartbeat",
        crontab={},  # every field "*": every minute
        description=(
            "Beat's proof of life for /healthz: publishing this every minute records the beat tick that "
            "/healthz checks (older than 3 minutes = beat is failing). It does no work. Leave it enabled: "
            "turned off, /healthz and the beat container's health check report beat as failing."
        ),
    ),
]
