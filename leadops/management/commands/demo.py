"""Demo data for a fresh database, so a newcomer sees every screen working.

Nothing here is made up to look busy: the jobs below really run (the first
one right here, the second on the Celery worker that `make demo` starts).
Later issues add their own synthetic data here.
"""

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.demo import load_demo_accounts
from leadops import selfcheck
from leadops.jobs import create_job, start_job
from leadops.models import JobRun
from leadops.tasks import run_selfcheck
from outreach.demo import load_demo_outreach
from telegram_sources.demo import load_demo_groups
from vk_sync.demo import load_demo_vk


class Command(BaseCommand):
    help = "Load demo data and run demo jobs (safe to run again)."

    def handle(self, *args, **options):
        inline = create_job(kind="selfcheck", target="demo (inline)", trigger=JobRun.Trigger.COMMAND)
        selfcheck.run(job_id=inline.pk)
        queued = start_job(kind="selfcheck", target="demo (worker)", task=run_selfcheck, trigger=JobRun.Trigger.COMMAND)
        self.stdout.write(f"Demo jobs: #{inline.pk} ran here, #{queued.pk} queued for the worker.")
        self.load_outreach()
        if not settings.REFERENCE_GROUP:
            self.stdout.write("REFERENCE_GROUP is not set: no Telegram demo data (make demo sets it).")
            return
        exports = load_demo_groups()
        self.stdout.write(f"Telegram: demo groups created, {len(exports)} export jobs queued.")
        load_demo_accounts()
        self.stdout.write("Accounts: a demo pool and join targets created, a join batch queued.")
        if load_demo_vk():
            self.stdout.write("VK: demo tokens and community created, a subscriber sync queued.")
        else:
            self.stdout.write("VK: VK_API_URL is not the local emulator: no VK demo data.")

    def load_outreach(self):
        outreach = load_demo_outreach()
        if outreach is None:
            self.stdout.write("Outreach: Yandex, OpenAI and SMTP are not the local emulators: no outreach demo data.")
            return
        self.stdout.write(
            f"Outreach: a demo sheet of {outreach['niches']} niches, an offer brief and {outreach['mailboxes']} "
            "mailboxes. `make demo-outreach` runs the pipeline once (run it twice, a minute apart, to see emails "
            "go out); Outreach messages -> Demo mailbox lists what the demo SMTP server received."
        )
