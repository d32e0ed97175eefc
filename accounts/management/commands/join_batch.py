"""`manage.py join_batch [NICHE] [BATCH_SIZE]`: the Smart Joiner inline, with a JobRun per batch.

Progress goes to the log (stderr, at LOG_LEVEL INFO, the default) and to the JobRun; stdout gets one
summary line per batch.
"""

from django.core.management.base import BaseCommand, CommandError

from accounts.services.joiner import NoUsableAccount, run_join_batch
from accounts.services.starters import (
    DEFAULT_BATCH_SIZE,
    JOIN_KIND,
    MAX_BATCH_SIZE,
    active_join_job,
    check_batch_size,
    niches_with_new_targets,
)
from leadops.jobs import create_job
from leadops.models import JobRun


class Command(BaseCommand):
    help = (
        "Join new target groups now, in this process: one batch for NICHE, or, without NICHE, one batch for "
        f"every niche that has new targets. BATCH_SIZE: groups per batch (default {DEFAULT_BATCH_SIZE}, "
        f"at most {MAX_BATCH_SIZE})."
    )

    def add_arguments(self, parser):
        parser.add_argument("niche", nargs="?", help="the niche; omitted: every niche with new targets")
        parser.add_argument("batch_size", nargs="?", type=int, default=DEFAULT_BATCH_SIZE)
        parser.add_argument(
            "--force", action="store_true", help="run even when a join job for the niche is queued or running"
        )

    def handle(self, *args, niche, batch_size, force, **options):
        try:
            check_batch_size(batch_size)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        niches = [niche] if niche else list(niches_with_new_targets())
        if not niches:
            self.stdout.write("no niche has new targets: nothing to join")
            return
        for name in niches:
            self._run(name, batch_size, force=force)

    def _run(self, niche: str, batch_size: int, *, force: bool) -> None:
        if (active := active_join_job(niche)) and not force:
            raise CommandError(
                f"niche {niche!r}: join job #{active.pk} is {active.status}; wait for it, or pass --force "
                "if it is a leftover of a stopped worker"
            )
        job = create_job(kind=JOIN_KIND, target=niche, trigger=JobRun.Trigger.COMMAND)
        try:
            result = run_join_batch(niche=niche, batch_size=batch_size, job_id=job.pk)
        except NoUsableAccount as exc:
            raise CommandError(f"niche {niche!r}: {exc} (job #{job.pk})") from None
        self.stdout.write(f"niche {niche!r}: {result.summary()} (job #{job.pk})")
