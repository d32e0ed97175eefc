"""manage.py setup_schedules: write the default Celery beat entries (safe to run again)."""

from django.core.management.base import BaseCommand, CommandError

from leadops.schedules import ScheduleError, sync_schedules


class Command(BaseCommand):
    help = (
        "Create the default Celery beat entries declared in each app's schedules.py. "
        "Idempotent: existing entries keep their schedule and enabled flag; only descriptions are refreshed."
    )

    def handle(self, *args, **options):
        try:
            result = sync_schedules()
        except ScheduleError as exc:
            raise CommandError(str(exc)) from exc
        for name in result.created:
            self.stdout.write(f"created: {name}")
        for name in result.kept:
            refreshed = " (description refreshed)" if name in result.described else ""
            self.stdout.write(f"exists, schedule and enabled flag left as they are: {name}{refreshed}")
        self.stdout.write(
            f"Beat entries: {len(result.created)} created, {len(result.kept)} already there. "
            "Existing entries are never re-enabled or rescheduled: edit them in admin (Periodic tasks)."
        )
