"""VK admin: the actions start real jobs (run here against the VK emulator), tokens stay write-only."""

import pytest
from django.urls import reverse

from leadops.models import JobRun
from tests.emulators.vk import VkEmulator
from vk_sync.models import VkCommunity, VkMembershipEvent, VkSubscription, VkToken, VkUser

pytestmark = pytest.mark.django_db

GROUP = 4242
COMMUNITIES_URL = reverse("admin:vk_sync_vkcommunity_changelist")
TOKENS_URL = reverse("admin:vk_sync_vktoken_changelist")
SECRETS = {"reader-1": "vk1.a.first-user-token-SECRET", "reader-2": "vk1.a.second-user-token-SECRET"}


@pytest.fixture
def vk(settings):
    with VkEmulator() as emulator:
        for label, secret in SECRETS.items():
            emulator.add_token(secret, "user", label=label)
        emulator.add_group(GROUP, "Городские события", screen_name="city_events", members=3000)
        settings.VK_API_URL = emulator.url
        yield emulator


@pytest.fixture
def tokens(db):
    return [
        VkToken.objects.create(label=label, kind=VkToken.Kind.USER, token=secret) for label, secret in SECRETS.items()
    ]


@pytest.fixture
def community(db):
    return VkCommunity.objects.create(id=GROUP, screen_name="city_events", name="Городские события")


def action(client, name, *communities, follow=False):
    data = {"action": name, "_selected_action": [c.pk for c in communities], "index": 0}
    return client.post(COMMUNITIES_URL, data, follow=follow)


@pytest.fixture
def run_action(admin_client, django_capture_on_commit_callbacks):
    """The action and its commit: the eager task runs before this returns."""

    def run(name, *communities, follow=False):
        with django_capture_on_commit_callbacks(execute=True):
            return action(admin_client, name, *communities, follow=follow)

    return run


def jobrun_url(job):
    return reverse("admin:leadops_jobrun_change", args=[job.pk])


def test_sync_subscribers_runs_after_commit_and_its_job_shows_the_progress(
    admin_client, vk, tokens, community, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = action(admin_client, "sync_subscribers", community)

    job = JobRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == jobrun_url(job)
    assert (job.kind, job.target, job.status, job.triggered_by.username) == (
        "vk-subscribers",
        "Городские события",
        JobRun.Status.QUEUED,
        "admin",
    )
    assert len(callbacks) == 1
    assert not VkSubscription.objects.exists()  # nothing ran before the commit

    for callback in callbacks:  # the commit: the eager task syncs against the emulator
        callback()

    job.refresh_from_db()
    assert job.status == JobRun.Status.SUCCEEDED, job.error
    assert job.progress_total and job.progress_done == job.progress_total
    assert job.counters["members"] == job.counters["fetched"] == job.counters["expected"] == 3000
    assert not VkMembershipEvent.objects.exists()  # the first sync is the baseline: no join events
    assert VkSubscription.objects.filter(community=community, is_member=True).count() == 3000
    community.refresh_from_db()
    assert community.members_count == 3000
    assert community.last_sync["subscribers"]["result"] == "ok"

    page = admin_client.get(response["Location"]).content.decode()
    assert "succeeded" in page
    listing = admin_client.get(COMMUNITIES_URL).content.decode()
    assert f"subscribers: ok just now (3,000 members, {job.counters['joined']:,} joined, 0 left)" in listing


def test_a_second_sync_records_who_joined_and_left(run_action, vk, tokens, community):
    run_action("sync_subscribers", community)
    members = vk.groups[GROUP].members
    vk.members_change(GROUP, join=[9_000_001, 9_000_002], leave=members[10:13])

    response = run_action("sync_subscribers", community, follow=True)

    job = JobRun.objects.filter(kind="vk-subscribers").first()
    assert job.status == JobRun.Status.SUCCEEDED, job.error
    assert (job.counters["joined"], job.counters["left"]) == (2, 3)
    assert VkMembershipEvent.objects.filter(community=community, kind="join").count() == 2
    assert VkMembershipEvent.objects.filter(community=community, kind="leave").count() == 3
    assert "Started 1 subscriber sync job(s)" in response.content.decode()


@pytest.mark.django_db(transaction=True)  # the refresh writes profiles from one thread per token: commit first
def test_refresh_profiles_fills_in_the_members(run_action, vk, tokens, community):
    run_action("sync_subscribers", community)

    response = run_action("refresh_profiles", community)

    job = JobRun.objects.get(kind="vk-subscriber-details")
    assert response["Location"] == jobrun_url(job)
    assert job.status == JobRun.Status.SUCCEEDED, job.error
    assert job.counters["requested"] == 3000 and job.counters["failed"] == 0
    assert VkUser.objects.filter(details_refreshed_at__isnull=False).count() == 3000


def test_it_starts_one_job_per_community_and_lists_them(admin_client, community, django_capture_on_commit_callbacks):
    other = VkCommunity.objects.create(id=7, name="Другое")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = action(admin_client, "sync_subscribers", community, other)

    jobs = JobRun.objects.order_by("pk")
    assert response.status_code == 302  # to the list of exactly those jobs
    assert response["Location"] == f"{reverse('admin:leadops_jobrun_changelist')}?id__in={jobs[0].pk},{jobs[1].pk}"
    assert sorted(job.target for job in jobs) == ["Городские события", "Другое"]
    assert len(callbacks) == 2
    html = admin_client.get(response["Location"]).content.decode()
    assert "Started 2 subscriber sync job(s)" in html
    for job in jobs:
        assert jobrun_url(job) in html


def test_a_community_already_syncing_gets_no_second_job(admin_client, community, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        action(admin_client, "sync_subscribers", community)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = action(admin_client, "sync_subscribers", community, follow=True)

    job = JobRun.objects.get()
    assert callbacks == []
    assert response.redirect_chain[-1][0] == jobrun_url(job)
    assert "Already under way" in response.content.decode()


def test_add_community_resolves_a_link_through_vk(admin_client, vk, tokens):
    url = reverse("admin:vk_sync_vkcommunity_add")
    assert "screen name, id, club123 or vk.com link" in admin_client.get(url).content.decode()

    response = admin_client.post(url, {"ref": "https://vk.com/City_Events"})

    assert response.status_code == 302, response.content.decode()
    community = VkCommunity.objects.get()
    assert (community.id, community.screen_name, community.name, community.members_count) == (
        GROUP,
        "city_events",
        "Городские события",
        3000,
    )
    page = admin_client.get(reverse("admin:vk_sync_vkcommunity_change", args=[GROUP])).content.decode()
    assert "never synced" in page and "joins and leaves" in page
    assert [c.pk for c in admin_client.get(COMMUNITIES_URL, {"q": f"club{GROUP}"}).context["cl"].result_list] == [GROUP]
    again = admin_client.post(url, {"ref": f"club{GROUP}"})
    assert "Already added: Городские события" in again.content.decode()
    unknown = admin_client.post(url, {"ref": "no_such_group"})
    assert "VK could not resolve" in unknown.content.decode()
    assert VkCommunity.objects.count() == 1


def test_add_community_says_when_there_is_no_token(admin_client, vk):
    response = admin_client.post(reverse("admin:vk_sync_vkcommunity_add"), {"ref": "city_events"})

    assert "No usable VK token" in response.content.decode()
    assert not VkCommunity.objects.exists()


def test_the_token_is_never_shown(admin_client, tokens):
    token = tokens[0]
    secret = SECRETS[token.label]
    pages = [
        admin_client.get(reverse("admin:vk_sync_vktoken_change", args=[token.pk])),
        admin_client.get(TOKENS_URL),
        admin_client.get(reverse("admin:vk_sync_vktoken_add")),
    ]
    for response in pages:
        html = response.content.decode()
        assert response.status_code == 200
        assert secret not in html and "SECRET" not in html
    assert "set" in pages[0].content.decode()


def test_saving_without_retyping_keeps_the_token(admin_client, tokens):
    token = tokens[0]
    url = reverse("admin:vk_sync_vktoken_change", args=[token.pk])
    form = {"label": "reader-1", "kind": "user", "token": "", "status": "active", "vktokencommunity_set-TOTAL_FORMS": 0}
    form |= {"vktokencommunity_set-INITIAL_FORMS": 0}

    response = admin_client.post(url, form)

    assert response.status_code == 302, response.content.decode()
    token.refresh_from_db()
    assert token.token == SECRETS["reader-1"]
    new = admin_client.post(reverse("admin:vk_sync_vktoken_add"), {**form, "label": "empty"})
    assert "a new token needs one" in new.content.decode()


def check(admin_client, *tokens):
    data = {"action": "check_tokens", "_selected_action": [t.pk for t in tokens], "index": 0}
    return admin_client.post(TOKENS_URL, data, follow=True).content.decode()


def test_check_token_says_a_working_token_works(admin_client, vk, tokens):
    html = check(admin_client, tokens[0])

    assert "Token reader-1: works (user token, users.get)" in html
    tokens[0].refresh_from_db()
    assert tokens[0].status == VkToken.Status.ACTIVE and tokens[0].last_used_at is not None
    assert vk.calls["users.get"] == 1


def test_check_token_marks_an_invalid_token(admin_client, vk, tokens):
    vk.fail_next(SECRETS["reader-1"], code=5)
    unknown = VkToken.objects.create(label="typo", kind=VkToken.Kind.SERVICE, token="not-a-token-vk-knows")

    html = check(admin_client, tokens[0], unknown)

    assert "Token reader-1: invalid" in html and "Token typo: invalid" in html and "marked invalid" in html
    for row in (tokens[0], unknown):
        row.refresh_from_db()
        assert row.status == VkToken.Status.INVALID
        assert "VK error 5" in row.last_error
    assert SECRETS["reader-1"] not in html and "not-a-token-vk-knows" not in html
    assert tokens[1].status == VkToken.Status.ACTIVE


def test_check_token_uses_groups_get_by_id_for_a_community_token(admin_client, vk):
    vk.add_token("community-secret", "community", label="own", group_id=GROUP)
    token = VkToken.objects.create(label="own", kind=VkToken.Kind.COMMUNITY, token="community-secret")
    token.status = VkToken.Status.INVALID  # an operator pasted a fresh secret and checks it
    token.save()

    html = check(admin_client, token)

    assert "Token own: works (community token, groups.getById)" in html
    token.refresh_from_db()
    assert token.status == VkToken.Status.ACTIVE


def test_users_subscriptions_and_events_are_read_only_and_searchable(admin_client, run_action, vk, tokens, community):
    run_action("sync_subscribers", community)
    member = vk.groups[GROUP].members[0]
    users_url = reverse("admin:vk_sync_vkuser_changelist")
    subscriptions_url = reverse("admin:vk_sync_vksubscription_changelist")
    events_url = reverse("admin:vk_sync_vkmembershipevent_changelist")

    found = admin_client.get(users_url, {"q": f"id{member}"}).context["cl"].result_list
    assert [user.id for user in found] == [member]
    subscriptions = admin_client.get(subscriptions_url, {"community__id__exact": GROUP, "is_member__exact": 1})
    assert subscriptions.status_code == 200
    assert subscriptions.context["cl"].result_count == 3000
    assert admin_client.get(events_url, {"community__id__exact": GROUP, "kind__exact": "join"}).status_code == 200
    for model in ("vkuser", "vksubscription", "vkmembershipevent"):
        assert admin_client.get(reverse(f"admin:vk_sync_{model}_add")).status_code == 403
    subscription = VkSubscription.objects.first()
    change_url = reverse("admin:vk_sync_vksubscription_change", args=[subscription.pk])
    assert admin_client.get(change_url).status_code == 200
    assert admin_client.post(change_url, {"is_member": ""}).status_code == 403


def test_the_beat_entries_start_one_job_per_community(community, django_capture_on_commit_callbacks):
    from leadops.schedules import sync_schedules
    from vk_sync.schedules import SCHEDULES
    from vk_sync.tasks import scheduled_profile_refreshes, scheduled_subscriber_syncs

    assert sync_schedules(schedules=SCHEDULES).created == [schedule.name for schedule in SCHEDULES]
    assert {"Sync VK subscribers daily", "Refresh VK subscriber profiles weekly"} <= {s.name for s in SCHEDULES}
    VkCommunity.objects.create(id=7, name="Другое")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = scheduled_subscriber_syncs()
        second = scheduled_subscriber_syncs()  # the jobs are still queued: no second ones
        refreshes = scheduled_profile_refreshes()

    assert len(first) == 2 and second == first and len(refreshes) == 2
    assert len(callbacks) == 4
    assert set(JobRun.objects.values_list("trigger", flat=True)) == {JobRun.Trigger.SCHEDULE}
