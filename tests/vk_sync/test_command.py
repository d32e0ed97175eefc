"""`manage.py vk_sync LIST COMMUNITY`: the contract's names, its argument errors, and clear failures."""

import io

import pytest
from django.core.management import CommandError, call_command

from leadops.models import JobRun
from tests.emulators.vk import VkEmulator
from vk_sync.lists import CONTRACT
from vk_sync.lists import LISTS as BUILT
from vk_sync.management.commands.vk_sync import LISTS
from vk_sync.models import VkCommunity, VkSubscription, VkToken, VkUser
from vk_sync.services.communities import CommunityRefError, parse_community_ref

pytestmark = pytest.mark.django_db

GROUP = 4242
SECRET = "vk1.a.command-test-token-SECRET"


def vk_sync(*args) -> str:
    out = io.StringIO()
    call_command("vk_sync", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_list_names_are_the_contracts():
    assert LISTS == [
        "subscribers",
        "subscriber-details",
        "posts",
        "authors",
        "interactions",
        "interaction-users",
        "mailing",
        "mailing-analysis",
    ]


def test_an_unknown_list_is_rejected_by_the_parser():
    with pytest.raises(CommandError, match=r"invalid choice: 'members'"):
        vk_sync("members", "club1")


def test_both_arguments_are_required():
    with pytest.raises(CommandError, match="the following arguments are required: COMMUNITY"):
        vk_sync("subscribers")
    with pytest.raises(CommandError, match="required: LIST, COMMUNITY"):
        vk_sync()


def test_every_list_of_the_contract_is_built():
    assert set(CONTRACT) == set(BUILT)


@pytest.mark.parametrize("ref", ["https://example.com/club1", "vk.com/", "два слова", "a", "http://vk.com/a/b"])
def test_something_that_is_not_a_community_is_one_clear_line(ref):
    with pytest.raises(CommandError) as caught:
        vk_sync("subscribers", ref)
    assert "not a VK community" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not VkCommunity.objects.exists() and not JobRun.objects.exists()


@pytest.mark.parametrize(
    ("ref", "key"),
    [
        ("123", 123),
        ("-123", 123),
        ("club123", 123),
        ("public123", 123),
        ("event123", 123),
        ("@Apple_Team", "apple_team"),
        ("apple.team", "apple.team"),
        ("vk.com/club123", 123),
        ("https://vk.com/apple_team", "apple_team"),
        ("https://m.vk.com/apple_team?w=wall-1_2", "apple_team"),
        ("  http://www.vk.com/public77/  ", 77),
    ],
)
def test_it_understands_every_way_of_naming_a_community(ref, key):
    assert parse_community_ref(ref) == key


def test_zero_is_no_community():
    with pytest.raises(CommunityRefError):
        parse_community_ref("club0")


@pytest.fixture
def vk(settings):
    with VkEmulator() as emulator:
        emulator.add_token(SECRET, "user", label="reader")
        emulator.add_token(SECRET + "-2", "user", label="reader-2")
        emulator.add_group(GROUP, "Городские события", screen_name="city_events", members=3000)
        settings.VK_API_URL = emulator.url
        yield emulator


@pytest.fixture
def tokens(db):
    VkToken.objects.create(label="reader", kind=VkToken.Kind.USER, token=SECRET)
    VkToken.objects.create(label="reader-2", kind=VkToken.Kind.USER, token=SECRET + "-2")


def test_it_adds_an_unknown_community_and_syncs_its_subscribers(vk, tokens):
    out = vk_sync("subscribers", "https://vk.com/city_events")

    community = VkCommunity.objects.get()
    assert (community.id, community.name, community.members_count) == (GROUP, "Городские события", 3000)
    assert VkSubscription.objects.filter(community=community, is_member=True).count() == 3000
    job = JobRun.objects.get()
    assert (job.kind, job.trigger, job.status) == ("vk-subscribers", JobRun.Trigger.COMMAND, JobRun.Status.SUCCEEDED)
    assert out.startswith("Городские события: first sync: 3000 members recorded")
    assert f"(job #{job.pk} succeeded)" in out

    vk.members_change(GROUP, join=[9_000_001], leave=vk.groups[GROUP].members[:2])
    again = vk_sync("subscribers", str(GROUP))  # known now: no second resolve
    assert "2999 members: 1 joined, 2 left" in again
    assert vk.calls["groups.getById"] == 1


@pytest.mark.django_db(transaction=True)  # the refresh writes profiles from one thread per token: commit first
def test_it_refreshes_the_subscribers_profiles(vk, tokens):
    vk_sync("subscribers", "club4242")

    out = vk_sync("subscriber-details", "city_events")

    assert "3000 of 3000 profiles refreshed in 1 requests" in out
    assert VkUser.objects.filter(details_refreshed_at__isnull=False).count() == 3000
    assert JobRun.objects.filter(kind="vk-subscriber-details", status=JobRun.Status.SUCCEEDED).count() == 1


def test_without_a_usable_token_it_says_so_in_one_line(vk):
    VkToken.objects.create(label="dead", kind=VkToken.Kind.USER, token="x", status=VkToken.Status.INVALID)

    with pytest.raises(CommandError, match=r"^vk_sync subscribers city_events: no usable VK token") as caught:
        vk_sync("subscribers", "city_events")
    assert "\n" not in str(caught.value)
    assert not JobRun.objects.exists()


def test_a_community_vk_does_not_know_is_one_clear_line(vk, tokens):
    with pytest.raises(CommandError, match=r"^vk_sync subscribers no_such_group: VK error 100 .*no VK community"):
        vk_sync("subscribers", "no_such_group")
    assert not VkCommunity.objects.exists()


def test_a_sync_that_fetched_too_little_changes_nothing_and_says_why(vk, tokens):
    vk_sync("subscribers", "city_events")
    vk.fail_members_beyond(0.5)

    with pytest.raises(CommandError) as caught:
        vk_sync("subscribers", "city_events")

    message = str(caught.value)
    assert message.startswith("vk_sync subscribers city_events: fetched 1500 of 3000 members")
    assert "nothing was changed" in message and "\n" not in message
    failed = JobRun.objects.filter(status=JobRun.Status.FAILED).get()
    assert failed.trigger == JobRun.Trigger.COMMAND and "SyncAborted" in failed.error
    assert VkSubscription.objects.filter(is_member=True).count() == 3000


def test_a_sync_already_running_is_not_started_twice(vk, tokens):
    community = VkCommunity.objects.create(id=GROUP, name="Городские события")
    running = JobRun.objects.create(kind="vk-subscribers", target=str(community), status=JobRun.Status.RUNNING)

    with pytest.raises(CommandError, match=f"job #{running.pk} is running it already"):
        vk_sync("subscribers", str(GROUP))
