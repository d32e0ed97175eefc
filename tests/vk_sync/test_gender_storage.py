"""The gender of VK users: VK's own sex wins, the estimate fills the gaps, a new name is estimated again."""

import pytest
from django.urls import reverse

from leadops.jobs import create_job
from vk_sync.client import VkClient
from vk_sync.models import VkCommunity, VkUser
from vk_sync.services.gender import refresh_genders
from vk_sync.services.mailing import Page, store_pages
from vk_sync.services.profiles import refresh_profiles, refresh_subscriber_details
from vk_sync.services.subscribers import sync_subscribers
from vk_sync.tasks import refresh_genders_task

pytestmark = pytest.mark.django_db(transaction=True)


def client():
    return VkClient.from_db(sleep=lambda s: None)


def profile(user_id, first_name, last_name="", sex=0, domain=None):
    return {
        "id": user_id,
        "first_name": first_name,
        "last_name": last_name,
        "sex": sex,
        "domain": domain or f"id{user_id}",
    }


def stored(user_id) -> VkUser:
    return VkUser.objects.get(pk=user_id)


def test_vk_sex_wins_over_the_names(vk, vk_tokens):
    vk_tokens(1)
    vk.users[1] = profile(1, "Иван", "Петров", sex=1)  # VK says female: that is what the person set
    vk.users[2] = profile(2, "Анна", "Иванова", sex=2)

    refresh_profiles(user_ids=[1, 2], client=client())

    assert (stored(1).gender, stored(1).gender_rationale) == ("female", ["vk sex"])
    assert (stored(2).gender, stored(2).gender_rationale) == ("male", ["vk sex"])


def test_without_vk_sex_the_estimate_fills_the_gap(vk, vk_tokens):
    vk_tokens(1)
    vk.users[1] = profile(1, "Анна", "Иванова", sex=0)
    vk.users[2] = profile(2, "Саша", "", sex=0, domain="sasha_petrov")
    vk.users[3] = profile(3, "Женя", "", sex=0)

    refresh_profiles(user_ids=[1, 2, 3], client=client())

    assert stored(1).gender == "female"
    assert stored(1).gender_rationale == ["first name Анна → female 2", "surname ending -ова in Иванова → female 1.5"]
    assert stored(2).gender == "male"  # the short address (domain) is the username
    assert "username word petrov has surname ending -ov → male 1" in stored(2).gender_rationale
    assert (stored(3).gender, stored(3).gender_rationale) == ("unknown", ["first name Женя is ambiguous"])


def test_a_changed_name_or_sex_is_estimated_again_on_the_next_refresh(vk, vk_tokens):
    vk_tokens(1)
    vk.users[1] = profile(1, "Анна")
    refresh_profiles(user_ids=[1], client=client())
    assert stored(1).gender == "female"

    vk.users[1] = profile(1, "Олег")
    refresh_profiles(user_ids=[1], client=client())
    assert stored(1).gender == "male"

    vk.users[1] = profile(1, "Олег", sex=1)
    refresh_profiles(user_ids=[1], client=client())
    assert (stored(1).gender, stored(1).gender_rationale) == ("female", ["vk sex"])


def test_new_members_wait_for_their_profile_and_the_details_sync_leaves_none_pending(vk, vk_tokens, vk_community):
    vk_tokens(2)
    community, _ = vk_community(300)
    sync_subscribers(community_id=community.pk, job_id=create_job(kind="s").pk, client=client())
    assert VkUser.objects.count() == 300
    assert VkUser.objects.filter(gender="").count() == 300  # written by raw SQL: "not computed yet"

    refresh_subscriber_details(community_id=community.pk, job_id=create_job(kind="d").pk, client=client())

    assert not VkUser.objects.filter(gender="").exists()
    for user in VkUser.objects.filter(sex__in=[1, 2]):
        assert user.gender == {1: "female", 2: "male"}[user.sex] and user.gender_rationale == ["vk sex"]
    assert not VkUser.objects.filter(sex=0, gender_rationale=["vk sex"]).exists()


def test_a_profile_without_its_sex_in_the_mailing_is_redone_from_the_sex_on_file(db):
    VkCommunity.objects.create(id=1, name="Mailing")
    VkUser.objects.create(id=5, first_name="Анна", sex=2, gender="male", gender_rationale=["vk sex"])
    page = Page(
        offset=0,
        count=2,
        peers=[(5, True, 1_700_000_000), (6, True, 1_700_000_000)],
        profiles=[
            {"id": 5, "first_name": "DELETED", "last_name": "", "deactivated": "deleted"},  # basic fields only
            {"id": 6, "first_name": "Ольга", "last_name": "Петрова", "sex": 0, "photo_100": "https://vk.example/6"},
        ],
    )

    store_pages(1, [page])

    assert stored(6).gender == "female"  # a full profile: estimated as it is written
    assert stored(5).gender == ""  # names changed without the sex alongside: redone from the row
    assert refresh_genders_task() == 1  # what the beat entry runs
    assert (stored(5).gender, stored(5).gender_rationale) == ("male", ["vk sex"])


def test_users_known_only_by_id_are_unknown_until_their_profile_comes(db):
    VkUser.objects.bulk_create([VkUser(id=7), VkUser(id=8, sex=1)])

    assert refresh_genders() == 2
    assert (stored(7).gender, stored(7).gender_rationale) == ("unknown", [])
    assert stored(8).gender == "female"


def test_the_admin_filters_by_gender_and_shows_why(db, admin_client):
    VkUser.objects.create(id=1, first_name="Анна", last_name="Иванова")
    VkUser.objects.create(id=2, first_name="Олег", sex=2)
    refresh_genders()

    page = admin_client.get(reverse("admin:vk_sync_vkuser_changelist"), {"gender__exact": "male"})
    assert [u.pk for u in page.context["cl"].result_list] == [2]

    detail = admin_client.get(reverse("admin:vk_sync_vkuser_change", args=[1])).content.decode()
    assert "first name Анна → female 2; surname ending -ова in Иванова → female 1.5" in detail
