"""`manage.py vk_sync LIST COMMUNITY`: run one of seed 002's lists inline, with a JobRun.

COMMUNITY is a VK id, club123, a screen name or a vk.com link; a community not
in the database yet is resolved through VK and added. The run is recorded as a
JobRun (trigger: command line) like the admin's and the schedule's.
"""

from django.core.management.base import BaseCommand, CommandError

from leadops.http import HttpError
from leadops.jobs import create_job
from leadops.models import JobRun
from vk_sync.client import NoUsableToken, TokenInvalid, TokenSetAside, VkApiError, VkClient
from vk_sync.errors import ListIncomplete
from vk_sync.lists import CONTRACT
from vk_sync.lists import LISTS as BUILT
from vk_sync.services.communities import CommunityRefError, get_or_add_community, parse_community_ref
from vk_sync.services.profiles import refresh_subscriber_details
from vk_sync.services.subscribers import sync_subscribers

LISTS = CONTRACT  # the contract's names: fixed, even for lists that are not built yet
KINDS = {name: vk_list.kind for name, vk_list in BUILT.items()}


def one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class Command(BaseCommand):
    help = (
        "VK: sync one list of a community inline (recorded as a JobRun). "
        "LIST: subscribers subscriber-details posts authors interactions interaction-users mailing mailing-analysis."
    )

    def add_arguments(self, parser):
        parser.add_argument("list_name", metavar="LIST", choices=LISTS, help=" | ".join(LISTS))
        parser.add_argument("community", metavar="COMMUNITY", help="VK id, club123, screen name or vk.com link")

    def handle(self, *args, list_name: str, community: str, **options):
        if list_name not in KINDS:
            raise CommandError(f"vk_sync {list_name}: not available yet")
        try:
            parse_community_ref(community)  # a typo fails here, before any token is looked at
            client = VkClient.from_db()
            if not client.usable_tokens():
                raise NoUsableToken("no usable VK token: add one in admin (VK tokens) or check the ones there")
            row = get_or_add_community(community, client=client)
            running = JobRun.objects.filter(
                kind=KINDS[list_name], target=str(row), status=JobRun.Status.RUNNING
            ).first()
            if running:
                raise CommandError(
                    f"vk_sync {list_name} {community}: job #{running.pk} is running it already; wait for it"
                )
            job = create_job(kind=KINDS[list_name], target=str(row), trigger=JobRun.Trigger.COMMAND)
            self.stderr.write(f"{row} (id {row.pk}): {list_name}, job #{job.pk}")
            runner = getattr(self, "run_" + list_name.replace("-", "_"), None)
            summary = runner(row, job, client) if runner else self.run_any(list_name, row, job, client)
        except CommunityRefError as exc:
            raise CommandError(one_line(exc)) from None
        except NoUsableToken as exc:
            raise CommandError(f"vk_sync {list_name} {community}: {one_line(exc)}") from None
        except (ListIncomplete, TokenInvalid, TokenSetAside, VkApiError) as exc:
            raise CommandError(f"vk_sync {list_name} {community}: {one_line(exc)}") from None
        except HttpError as exc:
            raise CommandError(f"vk_sync {list_name} {community}: VK could not be reached: {one_line(exc)}") from None
        job.refresh_from_db()
        self.stdout.write(f"{row}: {summary} (job #{job.pk} {job.status})")

    def run_any(self, list_name, community, job, client) -> str:
        BUILT[list_name].run(community_id=community.pk, job_id=job.pk, client=client)
        job.refresh_from_db()
        return ", ".join(f"{key} {value}" for key, value in sorted(job.counters.items())) or "done"

    def run_subscribers(self, community, job, client) -> str:
        result = sync_subscribers(community_id=community.pk, job_id=job.pk, client=client)
        job.refresh_from_db()
        counters = job.counters
        return (
            f"{result.summary()}; {counters.get('requests', '?')} requests with {counters.get('tokens_used', '?')} "
            "token(s)"
        )

    def run_subscriber_details(self, community, job, client) -> str:
        counts = refresh_subscriber_details(community_id=community.pk, job_id=job.pk, client=client)
        done = counts["requested"] - counts["failed"]
        failed = f", {counts['failed']} failed (run it again)" if counts["failed"] else ""
        return f"{done} of {counts['requested']} profiles refreshed in {counts['requests']} requests{failed}"
