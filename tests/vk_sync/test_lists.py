"""Every VK list is reachable the same three ways: the command, an admin action, the schedule."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import escape

from leadops.models import JobRun
from tests.emulators.vk_wall import build_wall, install_wall
from vk_sync.lists import CONTRACT, LISTS
from vk_sync.models import VkCommunity, VkPost
from vk_sync.tasks import scheduled_interaction_syncs, scheduled_mailing_syncs, scheduled_post_syncs


def test_every_contract_list_is_built():
    assert list(LISTS) == CONTRACT


@pytest.mark.django_db(transaction=True)
def test_the_command_runs_a_list_from_the_registry(vk, vk_tokens, vk_community):
    vk_tokens(2)
    vk_community(10)
    wall = install_wall(vk)
    build_wall(wall, 1, posts=300, seed=1)
    out = io.StringIO()

    call_command("vk_sync", "posts", "club1", stdout=out, stderr=io.StringIO())

    assert VkPost.objects.filter(community_id=1).count() == 300
    assert JobRun.objects.get(kind="vk-posts").status == JobRun.Status.SUCCEEDED
    assert "(job #" in out.getvalue()


@pytest.mark.django_db
def test_the_admin_offers_one_action_per_list(admin_client):
    VkCommunity.objects.create(id=1, name="Club")
    html = admin_client.get(reverse("admin:vk_sync_vkcommunity_changelist")).content.decode()
    for vk_list in LISTS.values():
        assert escape(str(vk_list.action)) in html  # a lazy translation: the English of tests.settings


@pytest.mark.django_db
def test_the_schedules_start_one_job_per_community_and_list(django_capture_on_commit_callbacks):
    VkCommunity.objects.create(id=1, name="One")
    VkCommunity.objects.create(id=2, name="Two")
    with django_capture_on_commit_callbacks(execute=False):
        jobs = scheduled_post_syncs() + scheduled_interaction_syncs() + scheduled_mailing_syncs()
    assert len(jobs) == 2 * 6
    kinds = sorted(set(JobRun.objects.values_list("kind", flat=True)))
    assert kinds == [
        "vk-authors",
        "vk-interaction-users",
        "vk-interactions",
        "vk-mailing",
        "vk-mailing-analysis",
        "vk-posts",
    ]
    assert set(JobRun.objects.values_list("trigger", flat=True)) == {"schedule"}
